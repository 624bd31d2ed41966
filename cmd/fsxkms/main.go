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
// file of this package; the commands table below lists them.
//
// Every command follows the same conventions: -h or --help (and "fsxkms
// help <command>") prints its help on standard output and exits 0; a usage
// error prints one line and a hint to --help on standard error and exits 2.
package main

import (
	"errors"
	"flag"
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
	// help is the full help text: usage, description, flags, exit status.
	help string
	// run runs a command without subcommands and returns the exit code;
	// args follow the command's (or subcommand's) name.
	run func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
	// subs are the subcommands, in usage order; run is nil then.
	subs []command
}

// commands are fsxkms's commands, in the order usage lists them.
var commands = []command{
	{name: "alert", summary: "show alerts as their subscribers receive them (render)", help: alertHelp, subs: alertCommands},
	{name: "event", summary: "decode KMS events (decode)", help: eventHelp, subs: eventCommands},
	{name: "policy", summary: "evaluate a key policy (eval, check)", help: policyHelp, subs: policyCommands},
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
		fmt.Fprint(stdout, c.help)
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
		help, path, list = c.help, path+" "+c.name, c.subs
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

// newFlags returns a flag set for the command named path that prints
// nothing itself: parse says what went wrong.
func newFlags(path string) *flag.FlagSet {
	fs := flag.NewFlagSet(path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parse parses args with fs, flags and operands in any order ("--" ends the
// flags), and returns the operands. When it returns ok false the command
// returns code: 0 after printing help on stdout for -h or --help, 2 after a
// usage error on stderr.
func parse(fs *flag.FlagSet, help string, args []string, stdout, stderr io.Writer) (operands []string, code int, ok bool) {
	path := fs.Name()
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, help)
			return nil, 0, false
		}
		if err != nil {
			return nil, usageError(stderr, path, flagError(err, args)), false
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(operands, rest...), 0, true
		}
		if len(rest) == 0 {
			return operands, 0, true
		}
		operands = append(operands, rest[0])
		args = rest[1:]
	}
}

// flagError rewords the flag package's errors with the flag as the user
// typed it ("--bogus", not "-bogus").
func flagError(err error, args []string) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		typed := "--" + name
		for _, a := range args {
			if n, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "="); n == name && strings.HasPrefix(a, "-") {
				typed, _, _ = strings.Cut(a, "=")
				break
			}
		}
		return "unknown flag " + typed
	}
	msg = strings.Replace(msg, "flag -", "flag --", 1)
	return strings.Replace(msg, "argument: -", "argument: --", 1)
}

// parseFlags is parse for a command that takes flags only: an operand is a
// usage error.
func parseFlags(fs *flag.FlagSet, help string, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	operands, code, ok := parse(fs, help, args, stdout, stderr)
	if ok && len(operands) > 0 {
		return usageError(stderr, fs.Name(), fmt.Sprintf("unexpected argument %q", operands[0])), false
	}
	return code, ok
}

// groupHelp is the help of a command with subcommands: intro, then one
// line per subcommand.
func groupHelp(path, intro string, subs []command) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s <subcommand> [arguments]\n\n%s\n\nsubcommands:\n", path, intro)
	for _, c := range subs {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(&b, "\nRun '%s <subcommand> --help' for a subcommand's usage.\n", path)
	return b.String()
}
