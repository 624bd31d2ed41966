// Command fsxkms checks the AWS KMS keys that Amazon FSx file systems and
// backups depend on: it evaluates key policies, decodes KMS events, audits
// every key FSx uses, shows alerts as their readers receive them and
// re-drives the events of the failure queue.
//
// Usage:
//
//	fsxkms <command> [arguments]
//
// Run "fsxkms help" for the list of commands. Each command lives in its own
// file of this package; the commands table below lists them and their
// subcommands, and flags.go holds the flag conventions they share.
//
// Every command follows the same conventions: -h or --help (and "fsxkms
// help <command>") prints its help on standard output and exits 0; a usage
// error prints one line and a hint to --help on standard error and exits 2.
package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// command is one fsxkms command, or one subcommand of a command.
type command struct {
	name    string
	summary string
	// help is the full help text of a command without subcommands: usage,
	// description, flags, exit status.
	help string
	// intro is the description of a command with subcommands, whose help
	// is built from it and the subcommands (helpText).
	intro string
	// run runs a command without subcommands and returns the exit code;
	// args follow the command's (or subcommand's) name.
	run func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
	// subs are the subcommands, in usage order; run is nil then.
	subs []command
}

// commands are fsxkms's commands, in the order usage lists them.
var commands = []command{
	{name: "alert", summary: "show alerts as their subscribers receive them (render)",
		intro: "Shows fsxkms's alerts as email, chat and machine subscribers receive them.",
		subs: []command{
			{name: "render", summary: "show a machine-form alert as its subscribers receive it", help: alertRenderHelp, run: runAlertRender},
		}},
	{name: "event", summary: "decode KMS events (decode)",
		intro: "Reads KMS events as EventBridge, CloudTrail and the failure queue deliver them.",
		subs: []command{
			{name: "decode", summary: "say what KMS events mean for Amazon FSx", help: eventDecodeHelp, run: runEventDecode},
		}},
	{name: "policy", summary: "evaluate a key policy (eval, check)",
		intro: "Evaluates KMS key policies as AWS does, for Amazon FSx or for one request.",
		subs: []command{
			{name: "check", summary: "can Amazon FSx still use the key with this policy?", help: policyCheckHelp, run: runPolicyCheck},
			{name: "eval", summary: "evaluate one request against a key policy", help: policyEvalHelp, run: runPolicyEval},
		}},
	{name: "redrive", summary: "re-invoke a function with the events in its failure queue", help: redriveHelp, run: runRedrive},
	{name: "sweep", summary: "check every KMS key FSx uses, now (table or --json)", help: sweepHelp, run: runSweep},
	{name: "version", summary: "print fsxkms's version and VCS revision", help: versionHelp, run: runVersion},
}

const usageText = `usage: fsxkms <command> [arguments]

fsxkms checks the AWS KMS keys that Amazon FSx file systems and backups
depend on.

commands:
%s
Run 'fsxkms help <command>' or 'fsxkms <command> --help' for a command's
usage, and 'fsxkms --version' for the version.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches args to a command; it exists apart from main for tests.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return usageError(stderr, "fsxkms", "missing command ("+names(commands)+")")
	}
	switch args[0] {
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, usage())
		return 0
	case "help":
		return runHelp(args[1:], stdout, stderr)
	case "-version", "--version":
		return runVersion(args[1:], stdin, stdout, stderr)
	}
	c, ok := find(commands, args[0])
	if !ok {
		if strings.HasPrefix(args[0], "-") {
			return usageError(stderr, "fsxkms", fmt.Sprintf("unknown flag %s", args[0]))
		}
		return usageError(stderr, "fsxkms", fmt.Sprintf("unknown command %q (want %s)", args[0], names(commands)))
	}
	return c.exec("fsxkms "+c.name, args[1:], stdin, stdout, stderr)
}

// exec runs c, named path ("fsxkms policy"), with args: c.run, or the
// subcommand args name.
func (c command) exec(path string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if c.subs == nil {
		return c.run(args, stdin, stdout, stderr)
	}
	if len(args) == 0 {
		return usageError(stderr, path, "missing subcommand ("+names(c.subs)+")")
	}
	switch args[0] {
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, c.helpText(path))
		return 0
	case "help":
		return runHelp(append(strings.Fields(path)[1:], args[1:]...), stdout, stderr)
	}
	sub, ok := find(c.subs, args[0])
	if !ok && strings.HasPrefix(args[0], "-") {
		return usageError(stderr, path, fmt.Sprintf("unknown flag %s (want a subcommand first: %s)", args[0], names(c.subs)))
	}
	if !ok {
		return usageError(stderr, path, fmt.Sprintf("unknown subcommand %q (want %s)", args[0], names(c.subs)))
	}
	return sub.exec(path+" "+sub.name, args[1:], stdin, stdout, stderr)
}

// runHelp implements "fsxkms help [command [subcommand]]".
func runHelp(args []string, stdout, stderr io.Writer) int {
	help, path, list := usage(), "fsxkms", commands
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			break
		}
		c, ok := find(list, a)
		if !ok {
			what := "command"
			if path != "fsxkms" {
				what = "subcommand of " + path
			}
			return usageError(stderr, "fsxkms help", fmt.Sprintf("unknown %s %q (want %s)", what, a, names(list)))
		}
		path, list = path+" "+c.name, c.subs
		help = c.helpText(path)
	}
	fmt.Fprint(stdout, help)
	return 0
}

func usage() string {
	var b strings.Builder
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.summary)
	}
	return fmt.Sprintf(usageText, b.String())
}

func find(list []command, name string) (command, bool) {
	i := slices.IndexFunc(list, func(c command) bool { return c.name == name })
	if i < 0 {
		return command{}, false
	}
	return list[i], true
}

// names lists the names of cs: "a, b or c".
func names(cs []command) string {
	var ns []string
	for _, c := range cs {
		ns = append(ns, c.name)
	}
	if len(ns) < 2 {
		return strings.Join(ns, "")
	}
	return strings.Join(ns[:len(ns)-1], ", ") + " or " + ns[len(ns)-1]
}

// usageError prints msg, one line, and a hint to path's --help on stderr,
// and returns exit code 2.
func usageError(stderr io.Writer, path, msg string) int {
	fmt.Fprintf(stderr, "%s: %s\nRun '%s --help' for usage.\n", path, msg, path)
	return 2
}

// helpText is the help of c, named path ("fsxkms policy"): its help, or
// for a command with subcommands its intro, then one line per subcommand.
func (c command) helpText(path string) string {
	if c.subs == nil {
		return c.help
	}
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s <subcommand> [arguments]\n\n%s\n\nsubcommands:\n", path, c.intro)
	for _, s := range c.subs {
		fmt.Fprintf(&b, "  %-8s %s\n", s.name, s.summary)
	}
	fmt.Fprintf(&b, "\nRun '%s <subcommand> --help' for a subcommand's usage.\n", path)
	return b.String()
}

// readOperand reads the input of the command named path, which takes one
// optional operand, FILE: the file, or standard input when FILE is "-" or
// absent, read with read (which bounds what it takes). It returns the
// input's name for messages, "standard input" or FILE. When it returns ok
// false it has said why on stderr, and the command exits 2.
func readOperand(path string, files []string, stdin io.Reader, stderr io.Writer, read func(io.Reader) ([]byte, error)) (name string, raw []byte, ok bool) {
	if len(files) > 1 {
		usageError(stderr, path, fmt.Sprintf("want at most one FILE, got %d", len(files)))
		return "", nil, false
	}
	name, in := "standard input", stdin
	if len(files) == 1 && files[0] != "-" {
		f, err := os.Open(files[0])
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", path, err)
			return "", nil, false
		}
		defer f.Close()
		name, in = files[0], f
	}
	raw, err := read(in)
	if err != nil {
		fmt.Fprintf(stderr, "%s: reading %s: %v\n", path, name, err)
		return "", nil, false
	}
	return name, raw, true
}
