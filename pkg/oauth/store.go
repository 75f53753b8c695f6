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
		return nil, errors.New("oauth: empty database path")
	}
	if strings.ContainsAny(path, "?#") {
		// The driver reads everything after '?' as DSN options.
		return nil, fmt.Errorf("oauth: database path %q must not contain '?' or '#'", path)
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("oauth: database path: %w", err)
	}
	if err := prepareDBFile(path); err != nil {
		return nil, err
	}
	dsn := path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)"
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{
		// The statements carry token hashes; they must never reach a log.
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
	})
	if err != nil {
		return nil, fmt.Errorf("oauth: opening %s: %w", path, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("oauth: opening %s: %w", path, err)
	}
	// One connection serialises every statement and transaction, which is
	// what makes code and refresh-token exchange atomic without relying on
	// SQLite's lock upgrade behaviour; the load is a handful of requests.
	sqlDB.SetMaxOpenConns(1)
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("oauth: opening %s: %w", path, err)
	}
	if err := db.WithContext(ctx).AutoMigrate(&clientRow{}, &codeRow{}, &tokenRow{}); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("oauth: migrating %s: %w", path, err)
	}
	// SQLite makes the -wal and -shm files itself; make sure they are not
	// more readable than the database, then check the result.
	for _, p := range []string{path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			sqlDB.Close()
			return nil, fmt.Errorf("oauth: %w", err)
		}
	}
	if err := checkMode(path, 0o600); err != nil {
		sqlDB.Close()
		return nil, err
	}
	return db, nil
}

// prepareDBFile creates a missing directory 0700 and the file 0600. An
// existing directory is used as it is, never chmodded (it may be /srv, shared
// with others), but only if others cannot write into it: whoever can would
// swap our files. It refuses a symlink, which could point the database (and
// its chmod) somewhere unexpected.
func prepareDBFile(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("oauth: creating %s: %w", dir, err)
	}
	if err := checkDBDir(dir); err != nil {
		return err
	}
	if lfi, err := os.Lstat(path); err == nil {
		if lfi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("oauth: %s is a symlink; refusing to use it as the OAuth database", path)
		}
		if !lfi.Mode().IsRegular() {
			return fmt.Errorf("oauth: %s is not a regular file", path)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("oauth: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("oauth: creating %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("oauth: making %s private: %w", path, err)
	}
	return nil
}

func checkMode(path string, want fs.FileMode) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("oauth: %w", err)
	}
	if got := fi.Mode().Perm(); got != want {
		return fmt.Errorf("oauth: %s has mode %#o, want %#o", path, got, want)
	}
	return nil
}

// checkDBDir refuses a directory that someone other than us (or root) owns
// or may write into, naming the path and the problem in one line.
func checkDBDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("oauth: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("oauth: %s is not a directory", dir)
	}
	const advice = "; put SERVAGENT_OAUTH_DB_PATH in a directory only servagent's user can write (e.g. ~/.servagent)"
	switch mode := fi.Mode(); {
	case mode&os.ModeSticky != 0 || mode.Perm()&0o002 != 0:
		return fmt.Errorf("oauth: database directory %s is world-writable (mode %#o)%s", dir, mode.Perm(), advice)
	case mode.Perm()&0o020 != 0:
		return fmt.Errorf("oauth: database directory %s is group-writable (mode %#o)%s", dir, mode.Perm(), advice)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if uid := int(st.Uid); uid != os.Geteuid() && uid != 0 {
			return fmt.Errorf("oauth: database directory %s belongs to uid %d, not to servagent's user (uid %d) or root%s", dir, uid, os.Geteuid(), advice)
		}
	}
	return nil
}
