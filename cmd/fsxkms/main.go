// Command fsxkms checks the AWS KMS keys that Amazon FSx file systems and
// backups depend on: it evaluates key policies, decodes KMS events and audits
// every key FSx uses.
//
// Usage:
//
//	fsxkms <command> [arguments]
//
// Run "fsxkms help" for the list of commands. Each command lives in its own
// file of this package; the commands table below lists them.
package main

import (
	"fmt"
	"io"
	"os"
	"slices"
)

// command is one fsxkms subcommand. run returns the process exit code.
type command struct {
	name    string
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// commands are fsxkms's subcommands, in the order usage lists them.
var commands = []command{
	{"event", "decode KMS events (decode)", runEvent},
	{"policy", "evaluate a key policy (eval, check)", runPolicy},
	{"sweep", "check every KMS key FSx uses, now (table or --json)", runSweep},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches args to a subcommand; it exists apart from main for tests.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	i := slices.IndexFunc(commands, func(c command) bool { return c.name == args[0] })
	if i < 0 {
		fmt.Fprintf(stderr, "fsxkms: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	return commands[i].run(args[1:], stdin, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: fsxkms <command> [arguments]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
}
