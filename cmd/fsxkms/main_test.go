package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/fsxkms/fsxkms/internal/testutil"
)

// cliCase is one run of fsxkms whose exit code, stdout and stderr are
// compared with testdata/cli/<name>.golden.
type cliCase struct {
	name string
	args []string
	code int
	// same lists other arguments that must print exactly what args does
	// (-h, --help and "help <command>" are one help).
	same [][]string
}

// cliCases are the help, version and usage-error runs of every command and
// subcommand of the table, so that a new command is covered as it is added.
func cliCases() []cliCase {
	cases := []cliCase{
		{name: "no-command", args: nil, code: 2},
		{name: "help", args: []string{"help"}, code: 0, same: [][]string{{"-h"}, {"--help"}, {"-help"}}},
		{name: "unknown-command", args: []string{"audit"}, code: 2},
		{name: "unknown-flag", args: []string{"--bogus"}, code: 2},
		{name: "help-unknown-command", args: []string{"help", "audit"}, code: 2},
		{name: "version", args: []string{"version"}, code: 0, same: [][]string{{"--version"}, {"-version"}}},
		{name: "version-extra-argument", args: []string{"version", "now"}, code: 2},
		{name: "redrive-no-queue-url", args: []string{"redrive", "--function", "fsxkms-kms-events"}, code: 2},
		{name: "redrive-bad-queue-url", args: []string{"redrive", "--queue-url", "fsxkms-failures", "--function", "f"}, code: 2},
		{name: "redrive-no-function", args: []string{"redrive", "--queue-url", "https://sqs.us-east-1.amazonaws.com/111122223333/q"}, code: 2},
		{name: "redrive-bad-max", args: []string{"redrive", "--queue-url", "https://sqs.us-east-1.amazonaws.com/111122223333/q", "--function", "f", "--max", "0"}, code: 2},
		{name: "redrive-max-not-a-number", args: []string{"redrive", "--max", "lots"}, code: 2},
		{name: "policy-eval-extra-argument", args: []string{"policy", "eval", "--policy", "p.json", "--request", "r.json", "more"}, code: 2},
		{name: "event-decode-two-files", args: []string{"event", "decode", "a.json", "b.json"}, code: 2},
	}
	for _, c := range commands {
		cases = append(cases,
			cliCase{name: "help-" + c.name, args: []string{"help", c.name}, code: 0,
				same: [][]string{{c.name, "--help"}, {c.name, "-h"}}},
			cliCase{name: c.name + "-unknown-flag", args: []string{c.name, "--bogus"}, code: 2})
		if c.subs == nil {
			continue
		}
		cases = append(cases,
			cliCase{name: c.name + "-no-subcommand", args: []string{c.name}, code: 2},
			cliCase{name: c.name + "-unknown-subcommand", args: []string{c.name, "bogus"}, code: 2},
			cliCase{name: "help-" + c.name + "-unknown-subcommand", args: []string{"help", c.name, "bogus"}, code: 2})
		for _, s := range c.subs {
			cases = append(cases,
				cliCase{name: "help-" + c.name + "-" + s.name, args: []string{"help", c.name, s.name}, code: 0,
					same: [][]string{{c.name, s.name, "--help"}, {c.name, s.name, "-h"}, {c.name, "help", s.name}}},
				cliCase{name: c.name + "-" + s.name + "-unknown-flag", args: []string{c.name, s.name, "--bogus=1"}, code: 2})
		}
	}
	return cases
}

// usageHint is the second line of a usage error; it names the command.
var usageHint = regexp.MustCompile(`^Run '(fsxkms( [a-z]+)*) --help' for usage\.$`)

// goVersion is the Go version and platform in the version line, which
// depend on the machine.
var goVersion = regexp.MustCompile(`; go[^ ]+ [a-z0-9]+/[a-z0-9]+\)`)

func runCLI(args []string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// transcript is what a golden file holds of one run of fsxkms.
func transcript(code int, stdout, stderr string) string {
	return fmt.Sprintf("exit: %d\n--- stdout\n%s--- stderr\n%s", code, stdout, stderr)
}

// goldenCase is one run of "fsxkms <command> args...", for testGolden.
type goldenCase struct {
	name  string
	args  []string
	stdin string // a file of testdata/<command> to read on standard input; "" for none
	code  int
}

// testGolden runs each case of command and compares exit code, stdout and
// stderr with testdata/<command>/<name>.golden (go test -update rewrites
// them). Bad input or usage (exit 2) must be said by a line naming the
// command.
func testGolden(t *testing.T, command string, cases []goldenCase) {
	t.Helper()
	dir := filepath.Join("testdata", command)
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			var stdin []byte
			if tt.stdin != "" {
				var err error
				if stdin, err = os.ReadFile(filepath.Join(dir, tt.stdin)); err != nil {
					t.Fatal(err)
				}
			}
			var stdout, stderr bytes.Buffer
			code := run(append([]string{command}, tt.args...), bytes.NewReader(stdin), &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, &stdout, &stderr)
			}
			if code == 2 && !strings.Contains(stderr.String(), "fsxkms "+command) {
				t.Errorf("bad input or usage gave no error naming fsxkms %s: %q", command, &stderr)
			}
			testutil.Golden(t, filepath.Join(dir, tt.name+".golden"), []byte(transcript(code, stdout.String(), stderr.String())))
		})
	}
}

// TestCLI runs every case of cliCases and checks the conventions: help on
// stdout with exit 0 and lines within 80 columns; a usage error on stderr
// in one line plus a hint to --help, with exit 2.
func TestCLI(t *testing.T) {
	for _, tt := range cliCases() {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(tt.args)
			if code != tt.code {
				t.Errorf("fsxkms %s: exit code %d, want %d; stderr:\n%s", strings.Join(tt.args, " "), code, tt.code, stderr)
			}
			switch code {
			case 0:
				if stderr != "" || stdout == "" {
					t.Errorf("stdout %q, stderr %q; want output on stdout only", stdout, stderr)
				}
				for i, line := range strings.Split(stdout, "\n") {
					if len(line) > 80 {
						t.Errorf("stdout line %d is %d columns, more than 80: %s", i+1, len(line), line)
					}
				}
			case 2:
				lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
				var m []string
				if len(lines) == 2 {
					m = usageHint.FindStringSubmatch(lines[1])
				}
				if stdout != "" || m == nil || !strings.HasPrefix(lines[0], m[1]+": ") {
					t.Errorf("stdout %q, stderr %q; want on stderr one line naming the command, then its --help hint", stdout, stderr)
				}
			}
			got := goVersion.ReplaceAllString(transcript(code, stdout, stderr), "; <go version> <platform>)")
			testutil.Golden(t, filepath.Join("testdata", "cli", tt.name+".golden"), []byte(got))
			for _, args := range tt.same {
				c2, out2, err2 := runCLI(args)
				if c2 != code || out2 != stdout || err2 != stderr {
					t.Errorf("fsxkms %s differs from fsxkms %s: exit %d, stdout:\n%s\nstderr:\n%s",
						strings.Join(args, " "), strings.Join(tt.args, " "), c2, out2, err2)
				}
			}
		})
	}
}

// TestUsageListsCommands: the usage lists every command of the table once,
// in its order.
func TestUsageListsCommands(t *testing.T) {
	var listed []string
	for line := range strings.SplitSeq(usage(), "\n") {
		if f := strings.Fields(line); strings.HasPrefix(line, "  ") && len(f) > 1 {
			listed = append(listed, f[0])
		}
	}
	var want []string
	for _, c := range commands {
		want = append(want, c.name)
	}
	if !slices.Equal(listed, want) {
		t.Errorf("usage lists %v, want %v:\n%s", listed, want, usage())
	}
}

// TestCommandsSorted: the table is in name order, each name once, so usage
// lists the commands alphabetically; the same holds for subcommands, and
// every entry has a summary, a help that starts with its usage, and either
// a run or subcommands.
func TestCommandsSorted(t *testing.T) {
	var check func(path string, list []command)
	check = func(path string, list []command) {
		for i, c := range list {
			if i > 0 && strings.Compare(list[i-1].name, c.name) >= 0 {
				t.Errorf("%s: %q listed after %q: not in name order, or twice", path, c.name, list[i-1].name)
			}
			if help := c.helpText(path + " " + c.name); c.summary == "" || !strings.HasPrefix(help, "usage: "+path+" "+c.name) {
				t.Errorf("%s %s: summary %q, help beginning %.40q", path, c.name, c.summary, help)
			}
			if (c.run == nil) == (c.subs == nil) {
				t.Errorf("%s %s: want either run or subcommands", path, c.name)
			}
			if (c.help == "") == (c.subs == nil) || (c.intro == "") == (c.subs != nil) {
				t.Errorf("%s %s: want a help without subcommands, an intro with them", path, c.name)
			}
			check(path+" "+c.name, c.subs)
		}
	}
	check("fsxkms", commands)
}

// TestVersionLine: the version line of a release, a pseudo-version from a
// modified checkout, and a build without VCS information or without build
// information at all.
func TestVersionLine(t *testing.T) {
	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"release", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Path: "github.com/fsxkms/fsxkms", Version: "v1.2.0"},
			Settings: settings("GOOS", "linux", "GOARCH", "arm64", "vcs.revision", "0123456789abcdef0123456789abcdef01234567", "vcs.time", "2026-11-26T09:30:00Z", "vcs.modified", "false")},
			"fsxkms v1.2.0 (revision 0123456789abcdef0123456789abcdef01234567, 2026-11-26T09:30:00Z; go1.26.1 linux/arm64)"},
		{"modified checkout", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v0.0.0-20261126093000-0123456789ab+dirty"},
			Settings: settings("GOOS", "darwin", "GOARCH", "arm64", "vcs.revision", "0123456789abcdef0123456789abcdef01234567", "vcs.time", "2026-11-26T09:30:00Z", "vcs.modified", "true")},
			"fsxkms v0.0.0-20261126093000-0123456789ab+dirty (revision 0123456789abcdef0123456789abcdef01234567, 2026-11-26T09:30:00Z, modified; go1.26.1 darwin/arm64)"},
		{"no VCS", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"}, Settings: settings("GOOS", "linux", "GOARCH", "amd64", "-buildvcs", "false")},
			"fsxkms (devel) (no VCS revision; go1.26.1 linux/amd64)"},
	}
	for _, tt := range tests {
		if got := versionLine(tt.bi); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
	if got := versionLine(nil); !strings.HasPrefix(got, "fsxkms (devel) (no VCS revision") {
		t.Errorf("no build info: %s", got)
	}
}
