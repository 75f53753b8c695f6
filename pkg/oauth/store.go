package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Rows keep every time as Unix seconds: integers compare the same way in SQL
// and in Go, whatever time zone or text format the driver would pick for a
// time.Time.

// clientRow is a registered OAuth client: the static operator client or one
// made through /mcp/register.
type clientRow struct {
	ID            string `gorm:"primaryKey;size:128"`
	SecretHash    string // SHA-256 hex of the secret; "" for public clients
	Name          string
	RedirectURIs  string // JSON array
	GrantTypes    string // space separated
	ResponseTypes string // space separated
	AuthMethod    string // token_endpoint_auth_method
	Scope         string
	Static        bool
	IssuedAt      int64
	Document      bool `gorm:"-"` // described by a client ID metadata document, never stored
}

func (clientRow) TableName() string { return "oauth_clients" }

// confidential reports whether the client authenticates with a secret.
func (c *clientRow) confidential() bool { return c.SecretHash != "" }

func (c *clientRow) redirectURIs() []string {
	var out []string
	_ = json.Unmarshal([]byte(c.RedirectURIs), &out)
	return out
}

// codeRow is an authorization code, stored only as its hash.
type codeRow struct {
	Hash          string `gorm:"primaryKey;size:64"`
	ClientID      string `gorm:"index;size:128"`
	GrantID       string `gorm:"index;size:64"` // tokens issued from this code share it
	RedirectURI   string
	RedirectGiven bool // redirect_uri was in the authorization request, so /token must repeat it
	Challenge     string
	Scope         string
	Resource      string
	ExpiresAt     int64 `gorm:"index"`
	Used          bool
}

func (codeRow) TableName() string { return "oauth_codes" }

const (
	kindAccess  = "access"
	kindRefresh = "refresh"
)

// tokenRow is an access or refresh token, stored only as its hash. GrantID
// ties together every token descended from one authorization code (a
// "family"), so that a replayed code or a reused refresh token can revoke
// them all and nothing else.
type tokenRow struct {
	Hash      string `gorm:"primaryKey;size:64"`
	Kind      string `gorm:"size:16"`
	ClientID  string `gorm:"index;size:128"`
	GrantID   string `gorm:"index;size:64"`
	Scope     string
	Resource  string
	IssuedAt  int64
	ExpiresAt int64 `gorm:"index"`
	Revoked   bool
	Rotated   bool // refresh token already exchanged once
}

func (tokenRow) TableName() string { return "oauth_tokens" }

// openDB prepares the directory and file with owner-only permissions before
// SQLite touches them, then opens the database and migrates the schema.
func openDB(ctx context.Context, path string) (*gorm.DB, error) {
	if path == "" {
		return nil, errors.New("empty database path")
	}
	if strings.ContainsAny(path, "?#") {
		// The driver reads everything after '?' as DSN options.
		return nil, fmt.Errorf("database path %q must not contain '?' or '#'", path)
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("database path: %w", err)
	}
	path, checked, err := prepareDBFile(path)
	if err != nil {
		return nil, err
	}
	dsn := path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)"
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{
		// The statements carry token hashes; they must never reach a log.
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
	})
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	// One connection serialises every statement and transaction, which is
	// what makes code and refresh-token exchange atomic without relying on
	// SQLite's lock upgrade behaviour; the load is a handful of requests.
	sqlDB.SetMaxOpenConns(1)
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := db.WithContext(ctx).AutoMigrate(&clientRow{}, &codeRow{}, &tokenRow{}); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("migrating %s: %w", path, err)
	}
	// SQLite makes the -wal and -shm files itself; make sure they are not
	// more readable than the database, then check the result.
	for _, p := range []string{path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			sqlDB.Close()
			return nil, err
		}
	}
	if err := checkMode(path, 0o600); err != nil {
		sqlDB.Close()
		return nil, err
	}
	// SQLite opened the path again: it must still be the file checked.
	if fi, err := os.Stat(path); err != nil || !sameFile(fi, checked) {
		sqlDB.Close()
		return nil, fmt.Errorf("%s changed while it was being opened; refusing it", path)
	}
	return db, nil
}

// prepareDBFile creates a missing directory 0700 and the file 0600, and
// returns the file's real path (symlinks in the directory resolved once)
// and its identity. An existing directory is used as it is, never chmodded
// (it may be /srv, shared with others), but only if others cannot write
// into it or into any directory above it, nor swap a symlink on the way:
// whoever can would swap our files. The file itself must not be a symlink.
// The checks that matter run on the opened directory's descriptor.
func prepareDBFile(path string) (string, syscall.Stat_t, error) {
	var none syscall.Stat_t
	dir, name := filepath.Dir(path), filepath.Base(path)
	// Check what exists before creating anything under it.
	existing := dir
	for {
		if _, err := os.Lstat(existing); err == nil || filepath.Dir(existing) == existing {
			break
		}
		existing = filepath.Dir(existing)
	}
	if err := checkAncestors(existing); err != nil {
		return "", none, err
	}
	if existing != dir {
		if err := checkParent(existing, nil); err != nil {
			return "", none, err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", none, fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := checkAncestors(dir); err != nil {
		return "", none, err
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", none, err
	}
	if err := checkAncestors(real); err != nil {
		return "", none, err
	}
	dfd, err := syscall.Open(real, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return "", none, fmt.Errorf("opening %s: %w", real, err)
	}
	defer syscall.Close(dfd)
	var dst syscall.Stat_t
	if err := syscall.Fstat(dfd, &dst); err != nil {
		return "", none, fmt.Errorf("%s: %w", real, err)
	}
	if err := checkDBDir(dir, dst); err != nil {
		return "", none, err
	}
	file := filepath.Join(real, name)
	fd, err := syscall.Openat(dfd, name, syscall.O_RDWR|syscall.O_CREAT|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if errors.Is(err, syscall.ELOOP) {
		return "", none, fmt.Errorf("%s is a symlink; refusing to use it as the OAuth database", path)
	}
	if err != nil {
		return "", none, fmt.Errorf("creating %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), file)
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return "", none, fmt.Errorf("%s: %w", path, err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return "", none, fmt.Errorf("%s is not a regular file", path)
	}
	if err := f.Chmod(0o600); err != nil {
		return "", none, fmt.Errorf("making %s private: %w", path, err)
	}
	return file, st, nil
}

func sameFile(fi fs.FileInfo, st syscall.Stat_t) bool {
	got, ok := fi.Sys().(*syscall.Stat_t)
	return ok && got.Dev == st.Dev && got.Ino == st.Ino
}

// checkAncestors refuses a path in which someone other than us (or root)
// could replace a component: every directory above it must be ours or
// root's and writable by nobody else, unless it is sticky (like /tmp) and
// the entry in it is ours or root's, which others then cannot rename.
func checkAncestors(p string) error {
	p = filepath.Clean(p)
	var parts []string
	for q := p; q != "/" && q != "."; q = filepath.Dir(q) {
		parts = append(parts, q)
	}
	parent := "/"
	for i := len(parts) - 1; i >= 0; i-- {
		var est syscall.Stat_t
		if err := syscall.Lstat(parts[i], &est); err != nil {
			return fmt.Errorf("%s: %w", parts[i], err)
		}
		if err := checkParent(parent, &est); err != nil {
			return err
		}
		parent = parts[i]
	}
	return nil
}

func ours(st *syscall.Stat_t) bool { return int(st.Uid) == os.Geteuid() || st.Uid == 0 }

// checkParent refuses a directory in which others could replace the entry
// described by entry (nil: one about to be created by us).
func checkParent(dir string, entry *syscall.Stat_t) error {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	writable := st.Mode&0o022 != 0
	sticky := st.Mode&syscall.S_ISVTX != 0
	switch {
	case !ours(&st):
		return fmt.Errorf("%s, above the database, belongs to uid %d; put SERVAGENT_OAUTH_DB_PATH in a directory only servagent's user can write (e.g. ~/.servagent)", dir, st.Uid)
	case writable && !(sticky && (entry == nil || ours(entry))):
		return fmt.Errorf("%s, above the database, is writable by others (mode %#o); put SERVAGENT_OAUTH_DB_PATH in a directory only servagent's user can write (e.g. ~/.servagent)", dir, st.Mode&0o7777)
	}
	return nil
}

// checkDBDir refuses a directory (named dir, described by st from its open
// descriptor) that someone other than us (or root) owns or may write into,
// naming the path and the problem in one line.
func checkDBDir(dir string, st syscall.Stat_t) error {
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return fmt.Errorf("%s is not a directory", dir)
	}
	const advice = "; put SERVAGENT_OAUTH_DB_PATH in a directory only servagent's user can write (e.g. ~/.servagent)"
	perm := st.Mode & 0o777
	switch {
	case st.Mode&syscall.S_ISVTX != 0 || perm&0o002 != 0:
		return fmt.Errorf("database directory %s is world-writable (mode %#o)%s", dir, perm, advice)
	case perm&0o020 != 0:
		return fmt.Errorf("database directory %s is group-writable (mode %#o)%s", dir, perm, advice)
	}
	if uid := int(st.Uid); uid != os.Geteuid() && uid != 0 {
		return fmt.Errorf("database directory %s belongs to uid %d, not to servagent's user (uid %d) or root%s", dir, uid, os.Geteuid(), advice)
	}
	return nil
}

func checkMode(path string, want fs.FileMode) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if got := fi.Mode().Perm(); got != want {
		return fmt.Errorf("%s has mode %#o, want %#o", path, got, want)
	}
	return nil
}
