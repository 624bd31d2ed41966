package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

const versionHelp = `usage: fsxkms version
       fsxkms --version

Prints fsxkms's module version, the VCS revision it was built from (with
its commit time, and "modified" when the work tree had changes), the Go
version and the platform, from the build information Go embeds in the
binary. A binary built with -buildvcs=false (or outside a git checkout)
carries no revision, and says so.

Exit status: 0, or 2 on bad usage.
`

// runVersion implements "fsxkms version" and "fsxkms --version".
func runVersion(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("fsxkms version")
	if code, ok := parseFlags(fs, versionHelp, args, stdout, stderr); !ok {
		return code
	}
	bi, _ := debug.ReadBuildInfo()
	fmt.Fprintln(stdout, versionLine(bi))
	return 0
}

// versionLine says which fsxkms bi describes, in one line:
//
//	fsxkms v1.2.0 (revision 0123abcd..., 2026-11-26T09:30:00Z; go1.26.0 linux/amd64)
//
// bi may be nil (a binary without build information).
func versionLine(bi *debug.BuildInfo) string {
	version, goVersion := "(devel)", runtime.Version()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	var revision, when string
	modified := false
	if bi != nil {
		if v := bi.Main.Version; v != "" {
			version = v
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		var goos, goarch string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			case "GOOS":
				goos = s.Value
			case "GOARCH":
				goarch = s.Value
			}
		}
		if goos != "" && goarch != "" {
			platform = goos + "/" + goarch
		}
	}
	var parts []string
	if revision == "" {
		parts = append(parts, "no VCS revision")
	} else {
		parts = append(parts, "revision "+revision)
		if when != "" {
			parts = append(parts, when)
		}
		if modified {
			parts = append(parts, "modified")
		}
	}
	return fmt.Sprintf("fsxkms %s (%s; %s %s)", version, strings.Join(parts, ", "), goVersion, platform)
}
