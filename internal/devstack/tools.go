package devstack

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// Module is the module path RepoRoot looks for.
const Module = "github.com/fsxkms/fsxkms"

// RepoRoot walks up from the working directory to the directory whose
// go.mod declares module github.com/fsxkms/fsxkms.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("devstack: finding the repository root: %w", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if moduleOf(filepath.Join(d, "go.mod")) == Module {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("devstack: no go.mod of module %s in %s or its parents", Module, dir)
		}
	}
}

// moduleOf returns the module path declared in the go.mod at path, or "".
func moduleOf(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// BinDir returns <repo>/.devstack/bin, where the third-party servers are
// built.
func BinDir() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".devstack", "bin"), nil
}

// toolNames are the binaries of tools/go.mod the stack runs.
var toolNames = []string{"local-kms", "goaws", "aws-lambda-rie"}

var toolsMu sync.Mutex

// Tools makes sure the pinned third-party servers (tools/go.mod) are built
// in BinDir, building them with "go install tool" when one is missing,
// and returns BinDir. A file lock keeps parallel test binaries from
// building at the same time.
func Tools() (string, error) {
	toolsMu.Lock()
	defer toolsMu.Unlock()
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, ".devstack", "bin")
	if missingTools(bin) == nil {
		return bin, nil
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return "", fmt.Errorf("devstack: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(bin, ".build.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("devstack: build lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("devstack: build lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	missing := missingTools(bin)
	if missing == nil {
		return bin, nil
	}
	// "go install tool" names goaws after its package directory, "cmd".
	if !exists(filepath.Join(bin, "goaws")) && exists(filepath.Join(bin, "cmd")) {
		if err := os.Rename(filepath.Join(bin, "cmd"), filepath.Join(bin, "goaws")); err != nil {
			return "", fmt.Errorf("devstack: %w", err)
		}
		if missing = missingTools(bin); missing == nil {
			return bin, nil
		}
	}
	cmd := exec.Command(goCommand(), "install", "tool")
	cmd.Dir = filepath.Join(root, "tools")
	cmd.Env = append(os.Environ(), "GOBIN="+bin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("devstack: building %s (cd %s && GOBIN=%s go install tool): %w\n%s", strings.Join(missing, ", "), cmd.Dir, bin, err, lastLines(out, 20))
	}
	if exists(filepath.Join(bin, "cmd")) {
		if err := os.Rename(filepath.Join(bin, "cmd"), filepath.Join(bin, "goaws")); err != nil {
			return "", fmt.Errorf("devstack: %w", err)
		}
	}
	if missing := missingTools(bin); missing != nil {
		return "", fmt.Errorf("devstack: go install tool in %s did not produce %s", cmd.Dir, strings.Join(missing, ", "))
	}
	return bin, nil
}

func missingTools(bin string) []string {
	var missing []string
	for _, t := range toolNames {
		if !exists(filepath.Join(bin, t)) {
			missing = append(missing, t)
		}
	}
	return missing
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// goCommand returns the go command: $GOROOT/bin/go when GOROOT is set
// (go test sets it for test binaries), else go from PATH.
func goCommand() string {
	if root := os.Getenv("GOROOT"); root != "" && exists(filepath.Join(root, "bin", "go")) {
		return filepath.Join(root, "bin", "go")
	}
	return "go"
}
