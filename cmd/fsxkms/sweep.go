package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fsxkms/fsxkms/pkg/check"
	"github.com/fsxkms/fsxkms/pkg/monitor"
)

const sweepHelp = `usage: fsxkms sweep [--region R] [--json] [--concurrency N] [--deadline D]

Lists every Amazon FSx file system, backup and Amazon File Cache in the
Region, reads each KMS key they use once and checks it with the same check
as the kms-events function. It prints a table, noncompliant keys first, then
unknown, then compliant (each by alias, then by key id), and a summary line.
With --json it prints instead one alert per key, in the machine form the
functions publish (one JSON object per line), and the summary line on
standard error. Nothing is published.

It uses your AWS credentials and configuration (AWS_PROFILE, AWS_REGION,
...), checked before any call ("no AWS credentials: ...", exit 2), and the
monitor's settings from the environment (FSX_KEY_ARNS, FSX_DISCOVERY,
FSX_PRINCIPALS, SWEEP_CONCURRENCY, FSX_CALL_TIMEOUT, SWEEP_KEY_BUDGET). It
needs fsx:DescribeFileSystems, fsx:DescribeBackups, fsx:DescribeFileCaches,
kms:DescribeKey, kms:GetKeyPolicy, kms:ListGrants and kms:ListAliases.
When it finds no FSx resource at all it says so on standard error (wrong
Region?). Against the local stack: . .devstack/env first.

Flags:
  --region R        AWS Region (default: AWS_REGION or the profile's)
  --json            one machine-form alert JSON object per key
  --concurrency N   keys read at once, 1 to 64 (default: SWEEP_CONCURRENCY
                    or 8)
  --deadline D      stop after D, e.g. 90s or 10m (default 10m): keys not read
                    by then are reported unknown (MONITOR_READ_FAILED, timed
                    out) and listed on standard error

Exit status: 0 when every key is compliant, 1 when a key is noncompliant or
unknown (or no key could be read at all, or the deadline left keys
unjudged), 2 on bad usage or configuration, 3 when FSx cannot be listed
(then nothing is checked).
`

// defaultSweepDeadline bounds a whole "fsxkms sweep" run (--deadline).
const defaultSweepDeadline = 10 * time.Minute

// runSweep implements "fsxkms sweep".
func runSweep(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("fsxkms sweep")
	region := fs.String("region", "", "AWS Region")
	asJSON := fs.Bool("json", false, "one machine-form alert per key")
	concurrency := fs.Int("concurrency", 0, "keys read at once")
	deadline := fs.Duration("deadline", defaultSweepDeadline, "stop after this long")
	if code, ok := parseFlags(fs, sweepHelp, args, stdout, stderr); !ok {
		return code
	}
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "concurrency" })
	if set && (*concurrency < 1 || *concurrency > monitor.MaxConcurrency) {
		return usageError(stderr, fs.Name(), fmt.Sprintf("--concurrency %d: want a number from 1 to %d", *concurrency, monitor.MaxConcurrency))
	}
	if *deadline <= 0 {
		return usageError(stderr, fs.Name(), fmt.Sprintf("--deadline %s: want a positive duration such as 10m", *deadline))
	}
	settings, err := monitor.SettingsFromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "fsxkms sweep: bad configuration: %v\n", err)
		return 2
	}
	opts := monitor.SweepOptions{Concurrency: settings.Concurrency, NoAlerts: true}
	if set {
		opts.Concurrency = *concurrency
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeoutCause(ctx, *deadline, fmt.Errorf("--deadline %s passed", *deadline))
	defer cancel()
	_, optFns, ok := loadAWS(ctx, fs.Name(), *region, stderr)
	if !ok {
		return 2
	}
	m, err := monitor.NewAWS(ctx, settings, "cli", optFns...)
	if err != nil {
		msg := err.Error()
		if errors.Is(err, monitor.ErrNoRegion) {
			msg += " or pass --region"
		}
		fmt.Fprintf(stderr, "fsxkms sweep: %s\n", msg)
		return 2
	}
	m.AlwaysAliases = true // the table names every key by its alias
	// stdout is for the table or the JSON lines only: the monitor's logs
	// (warnings and errors) go to stderr, its metrics nowhere.
	m.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	m.Metrics = io.Discard

	s, reports, err := m.Sweep(ctx, opts)
	if err != nil && reports == nil {
		fmt.Fprintf(stderr, "fsxkms %v\n", err) // "sweep: list FSx: ..."
		if ctx.Err() != nil {
			fmt.Fprintf(stderr, "fsxkms sweep: %v before FSx was listed: no key judged\n", context.Cause(ctx))
		}
		return 3
	}
	sortForDisplay(reports)
	if *asJSON {
		for _, r := range reports {
			b, merr := monitor.ToAlert(r.Report, nil).Machine()
			if merr != nil {
				fmt.Fprintf(stderr, "fsxkms sweep: render %s: %v\n", r.Report.Key.ARN, merr)
				return 1
			}
			fmt.Fprintf(stdout, "%s\n", b)
		}
		fmt.Fprintln(stderr, summaryLine(s))
	} else {
		printTable(stdout, reports)
		fmt.Fprintln(stdout, summaryLine(s))
	}
	if s.Resources == 0 {
		fmt.Fprintf(stderr, "fsxkms sweep: found no FSx file system, backup or file cache in %s: wrong Region? Pass --region or set AWS_REGION\n", m.Scope)
	}
	reportUnjudged(stderr, reports, s, context.Cause(ctx))
	if err != nil {
		fmt.Fprintf(stderr, "fsxkms %v\n", err)
		return 1
	}
	if s.Noncompliant > 0 || s.Unknown > 0 {
		return 1
	}
	return 0
}

// reportUnjudged lists on w the keys that ran out of time (their per-key
// budget or the deadline), which the table shows as unknown. cause is the
// sweep context's cause: set when the deadline passed.
func reportUnjudged(w io.Writer, reports []monitor.KeyResult, s monitor.Summary, cause error) {
	if s.TimedOut == 0 && cause == nil {
		return
	}
	var arns []string
	for _, r := range reports {
		if r.TimedOut {
			arns = append(arns, r.Report.Key.ARN)
		}
	}
	why := "their reads ran out of time (SWEEP_KEY_BUDGET)"
	if cause != nil {
		why = cause.Error()
	}
	fmt.Fprintf(w, "fsxkms sweep: %s: %d of %d keys not judged (unknown, MONITOR_READ_FAILED)\n", why, len(arns), s.KeysChecked)
	for _, a := range arns {
		fmt.Fprintf(w, "  not judged: %s\n", a)
	}
}

// sortForDisplay orders reports noncompliant first, then unknown, then
// compliant; within each, keys with an alias by alias, then the others by
// key ARN.
func sortForDisplay(rs []monitor.KeyResult) {
	rank := map[check.Status]int{check.Noncompliant: 0, check.Unknown: 1, check.Compliant: 2}
	name := func(r check.Report) (int, string) {
		if len(r.Aliases) > 0 {
			return 0, r.Aliases[0]
		}
		return 1, r.Key.ARN
	}
	slices.SortStableFunc(rs, func(a, b monitor.KeyResult) int {
		if c := cmp.Compare(rank[a.Report.Status], rank[b.Report.Status]); c != 0 {
			return c
		}
		ga, na := name(a.Report)
		gb, nb := name(b.Report)
		return cmp.Or(cmp.Compare(ga, gb), cmp.Compare(na, nb))
	})
}

// printTable prints one row per key, in the order Sweep returns them.
func printTable(w io.Writer, reports []monitor.KeyResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tSTATE\tSTATUS\tFSx\tFINDINGS")
	for _, r := range reports {
		rep := r.Report
		name := rep.Key.ID
		if len(rep.Aliases) > 0 {
			name = rep.Aliases[0]
		}
		if name == "" {
			name = rep.Key.ARN
		}
		status := string(rep.Status)
		if r.Status == monitor.StatusUnused {
			status = r.Status // not read: FSx no longer uses it, its problems were closed
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", name, dash(rep.Key.State), status, len(rep.Resources), findingList(rep))
	}
	tw.Flush()
}

// findingList names a report's findings: CODE, or CODE(action) when the
// finding concerns one permission; each once.
func findingList(rep check.Report) string {
	var out []string
	for _, f := range rep.Findings {
		s := string(f.Code)
		if strings.HasPrefix(f.Action, "kms:") {
			s += "(" + f.Action + ")"
		}
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, " ")
}

func summaryLine(s monitor.Summary) string {
	return fmt.Sprintf("%d keys, %d FSx resources: %d compliant, %d noncompliant, %d unknown (%d unreadable); %d AWS calls in %s",
		s.KeysChecked, s.Resources, s.Compliant, s.Noncompliant, s.Unknown, s.Unreadable, s.AWSCalls, s.Duration.Round(1e6))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
