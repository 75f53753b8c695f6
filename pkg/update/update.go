// Package update replaces the installed servagent binary with a GitHub
// release: it picks the release, verifies the archive's SHA-256 against the
// release's checksums.txt, swaps the binary atomically keeping the previous
// one as servagent.prev, restarts the service and rolls back when the new
// binary does not report the new version on /healthz.
package update

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/servagent/servagent/pkg/fsutil"
)

// DefaultBaseURL is the GitHub API; SERVAGENT_UPDATE_URL overrides it.
const DefaultBaseURL = "https://api.github.com"

// Repo is the GitHub repository releases come from.
const Repo = "servagent/servagent"

// Service is what update restarts and health-checks, and all it needs to
// know of systemd. The real one is system.InstalledService (systemctl
// through pkg/systemd, /healthz at the installed address); tests run the
// binary as a child process.
type Service interface {
	// Restart restarts the service so that it runs the binary now on disk.
	Restart(ctx context.Context) error
	// Healthy waits until the service reports version on /healthz.
	Healthy(ctx context.Context, version string) error
}

// Options are the inputs of Run.
type Options struct {
	BaseURL        string // API base; DefaultBaseURL when empty
	CurrentVersion string
	Version        string // wanted tag; empty: newest release
	Force, Check   bool
	BinaryPath     string  // the binary to replace
	Service        Service // nil: replace only, no restart (no installed service)
	HTTPClient     *http.Client
	Out            io.Writer
	Progress       io.Writer // non-nil on a terminal: a progress bar goes here
	GOOS, GOARCH   string    // default: runtime's
}

// Result says what Run did.
type Result struct {
	From, To   string
	Available  bool // an update exists (Check)
	Updated    bool
	RolledBack bool
}

// Release is one entry of the GitHub releases API.
type Release struct {
	TagName    string  `json:"tag_name"`
	Draft      bool    `json:"draft"`
	Prerelease bool    `json:"prerelease"`
	Assets     []Asset `json:"assets"`
}

// Asset is a file attached to a release.
type Asset struct {
	Name string `json:"name"`
	URL  string `json:"browser_download_url"`
}

// ErrChecksum means the downloaded archive does not match checksums.txt.
var ErrChecksum = errors.New("checksum mismatch")

// ErrRolledBack means the new binary failed its health check and the previous one is back.
var ErrRolledBack = errors.New("the new version did not become healthy; rolled back to the previous binary")

// ArchiveName is the goreleaser archive name for a version.
func ArchiveName(version, goos, goarch string) string {
	return fmt.Sprintf("servagent_%s_%s_%s.tar.gz", strings.TrimPrefix(version, "v"), goos, goarch)
}

// Run performs (or with Check, only reports) the update.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Minute}
	}
	if o.GOOS == "" {
		o.GOOS, o.GOARCH = runtime.GOOS, runtime.GOARCH
	}
	rels, err := fetchReleases(ctx, o)
	if err != nil {
		return nil, err
	}
	rel, err := pick(rels, o.Version)
	if err != nil {
		return nil, err
	}
	res := &Result{From: o.CurrentVersion, To: rel.TagName}
	newer := Compare(rel.TagName, o.CurrentVersion) > 0
	same := strings.TrimPrefix(rel.TagName, "v") == strings.TrimPrefix(o.CurrentVersion, "v")
	res.Available = newer || (o.Version != "" && !same)
	if o.Check {
		return res, nil
	}
	if !res.Available && !o.Force {
		return res, nil
	}
	prev, err := installRelease(ctx, o, rel)
	if err != nil {
		return nil, err
	}
	if o.Service == nil {
		res.Updated = true
		return res, nil
	}
	return restartOrRollBack(ctx, o, res, prev)
}

// installRelease downloads the release's archive, checks it against
// checksums.txt, and swaps its binary in, keeping the previous one; it
// returns where that one is. Nothing is touched unless every check passed.
func installRelease(ctx context.Context, o Options, rel Release) (prev string, err error) {
	archive := ArchiveName(rel.TagName, o.GOOS, o.GOARCH)
	archURL, sumsURL := assetURL(rel, archive), assetURL(rel, "checksums.txt")
	if archURL == "" {
		return "", fmt.Errorf("release %s has no %s (unsupported OS/architecture?)", rel.TagName, archive)
	}
	if sumsURL == "" {
		return "", fmt.Errorf("release %s has no checksums.txt; refusing an unverified binary", rel.TagName)
	}
	want, err := fetchChecksum(ctx, o, sumsURL, archive)
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(o.BinaryPath)
	tmp, err := os.CreateTemp(dir, ".servagent-download-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	got, err := download(ctx, o, archURL, archive, tmp)
	if err != nil {
		return "", err
	}
	if got != want {
		return "", fmt.Errorf("%w for %s: checksums.txt says %s, downloaded file is %s; the installed binary was not touched", ErrChecksum, archive, want, got)
	}
	if _, err := tmp.Seek(0, 0); err != nil {
		return "", err
	}
	newBin := filepath.Join(dir, ".servagent-new")
	defer os.Remove(newBin)
	if err := extract(tmp, newBin); err != nil {
		return "", fmt.Errorf("unpacking %s: %w", archive, err)
	}
	prev = o.BinaryPath + ".prev"
	if err := swap(o.BinaryPath, newBin, prev); err != nil {
		return "", err
	}
	fmt.Fprintf(o.Out, "installed %s (previous binary kept as %s)\n", rel.TagName, prev)
	return prev, nil
}

// restartOrRollBack restarts the service on the new binary and, when it
// does not become healthy, puts prev back and restarts that.
func restartOrRollBack(ctx context.Context, o Options, res *Result, prev string) (*Result, error) {
	fmt.Fprintln(o.Out, "restarting the service...")
	err := o.Service.Restart(ctx)
	if err == nil {
		err = o.Service.Healthy(ctx, res.To)
	}
	if err == nil {
		res.Updated = true
		return res, nil
	}
	fmt.Fprintf(o.Out, "the new version failed: %v\nrolling back to %s...\n", err, o.CurrentVersion)
	if rerr := restore(prev, o.BinaryPath); rerr != nil {
		return res, fmt.Errorf("the new version failed (%w) and restoring %s failed too: %w", err, prev, rerr)
	}
	res.RolledBack = true
	if rerr := o.Service.Restart(ctx); rerr != nil {
		return res, fmt.Errorf("%w (%w); restarting the previous binary failed too: %w", ErrRolledBack, err, rerr)
	}
	if rerr := o.Service.Healthy(ctx, ""); rerr != nil {
		return res, fmt.Errorf("%w (%w); the previous binary is not healthy either: %w", ErrRolledBack, err, rerr)
	}
	return res, fmt.Errorf("%w (%w)", ErrRolledBack, err)
}

func fetchReleases(ctx context.Context, o Options) ([]Release, error) {
	url := strings.TrimRight(o.BaseURL, "/") + "/repos/" + Repo + "/releases?per_page=100"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	resp, err := o.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the release list: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching the release list: %s: HTTP %d", url, resp.StatusCode)
	}
	var rels []Release
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&rels); err != nil {
		return nil, fmt.Errorf("reading the release list from %s: %w", url, err)
	}
	return rels, nil
}

// pick returns the asked tag, or the newest published non-prerelease.
func pick(rels []Release, want string) (Release, error) {
	if want != "" {
		for _, r := range rels {
			if strings.TrimPrefix(r.TagName, "v") == strings.TrimPrefix(want, "v") && !r.Draft {
				return r, nil
			}
		}
		return Release{}, fmt.Errorf("no release %s", want)
	}
	var best *Release
	for i, r := range rels {
		if r.Draft || r.Prerelease || parse(r.TagName) == nil {
			continue
		}
		if best == nil || Compare(r.TagName, best.TagName) > 0 {
			best = &rels[i]
		}
	}
	if best == nil {
		return Release{}, errors.New("no published release found")
	}
	return *best, nil
}

func assetURL(r Release, name string) string {
	for _, a := range r.Assets {
		if a.Name == name {
			return a.URL
		}
	}
	return ""
}

func get(ctx context.Context, o Options, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := o.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	return resp, nil
}

// fetchChecksum reads the archive's line of a sha256sum-format checksums.txt.
func fetchChecksum(ctx context.Context, o Options, url, archive string) (string, error) {
	resp, err := get(ctx, o, url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && strings.TrimPrefix(f[1], "*") == archive && len(f[0]) == 64 {
			return strings.ToLower(f[0]), nil
		}
	}
	return "", fmt.Errorf("checksums.txt has no entry for %s", archive)
}

func download(ctx context.Context, o Options, url, name string, w io.Writer) (string, error) {
	resp, err := get(ctx, o, url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	h := sha256.New()
	var body io.Reader = resp.Body
	if o.Progress != nil {
		p := &progress{w: o.Progress, name: name, total: resp.ContentLength}
		body = io.TeeReader(body, p)
		defer p.done()
	}
	if _, err := io.Copy(io.MultiWriter(w, h), body); err != nil {
		return "", fmt.Errorf("downloading %s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// extract writes the archive's "servagent" entry to dst, mode 0755.
func extract(r io.Reader, dst string) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return errors.New("no servagent binary in the archive")
		}
		if err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg && filepath.Base(hdr.Name) == "servagent" {
			f, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, io.LimitReader(tr, 512<<20)); err != nil {
				f.Close()
				return err
			}
			if err := f.Sync(); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}
	}
}

// swap keeps a copy of cur as prev, then renames next over cur. At every
// instant cur is a complete binary (old or new).
func swap(cur, next, prev string) error {
	if err := copyFile(cur, prev); err != nil {
		return fmt.Errorf("keeping the previous binary: %w", err)
	}
	if err := os.Chmod(next, 0o755); err != nil {
		return err
	}
	if err := os.Rename(next, cur); err != nil {
		return fmt.Errorf("replacing %s: %w", cur, err)
	}
	return nil
}

// restore puts prev back at cur atomically, leaving prev in place.
func restore(prev, cur string) error { return copyFile(prev, cur) }

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return fsutil.WriteFrom(dst, 0o755, func(w io.Writer) error { _, err := io.Copy(w, in); return err })
}

// parse returns the numeric parts of vX.Y.Z[-pre], or nil.
func parse(v string) []int {
	v = strings.TrimPrefix(v, "v")
	if i := strings.IndexAny(v, "-+"); i >= 0 {
		v = v[:i]
	}
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return nil
	}
	out := make([]int, 3)
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil
		}
		out[i] = n
	}
	return out
}

// Compare orders versions; anything unparsable (a "dev" build) is older than
// every release, and a pre-release is older than its release.
func Compare(a, b string) int {
	pa, pb := parse(a), parse(b)
	switch {
	case pa == nil && pb == nil:
		return 0
	case pa == nil:
		return -1
	case pb == nil:
		return 1
	}
	for i := range 3 {
		if pa[i] != pb[i] {
			if pa[i] < pb[i] {
				return -1
			}
			return 1
		}
	}
	preA, preB := strings.Contains(a, "-"), strings.Contains(b, "-")
	switch {
	case preA && !preB:
		return -1
	case !preA && preB:
		return 1
	}
	return strings.Compare(strings.TrimPrefix(a, "v"), strings.TrimPrefix(b, "v"))
}
