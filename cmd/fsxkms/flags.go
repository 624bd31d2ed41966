package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

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
