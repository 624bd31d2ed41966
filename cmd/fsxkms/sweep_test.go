package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/fsxkms/fsxkms/internal/bench"
	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/internal/testutil"
	"github.com/fsxkms/fsxkms/pkg/alert"
	"github.com/fsxkms/fsxkms/pkg/monitor"
)

// sweepStack starts a local AWS stack for this test only (the other tests
// of the package do not need one), points the environment at it as
// ". .devstack/env" does, and builds a world of 3 healthy keys and one key
// of each broken kind used by 40 FSx resources.
func sweepStack(t *testing.T) (*devstack.Stack, *bench.World) {
	t.Helper()
	st, err := devstack.Start(context.Background(), devstack.Options{})
	if err != nil {
		t.Fatalf("the local AWS stack did not start: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Stop(); err != nil {
			t.Error(err)
		}
	})
	for _, k := range []string{"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	for _, kv := range st.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	for _, k := range []string{"ALERT_TOPIC_ARN", "MIN_SEVERITY", "FSX_KEY_ARNS", "FSX_DISCOVERY", "INVENTORY_TTL", "FSX_PRINCIPALS", "SWEEP_CONCURRENCY", "SWEEP_SUMMARY"} {
		t.Setenv(k, "")
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w, err := bench.Build(context.Background(), kms.NewFromConfig(cfg), bench.Spec{Healthy: 3, EachBroken: 1, Resources: 40, AliasPrefix: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	return st, w
}

var (
	logTime  = regexp.MustCompile(`time=\S+ `)
	duration = regexp.MustCompile(`AWS calls in [0-9.]+m?s`)
)

// normalize replaces what changes from run to run: key ids (created by
// local-kms), log times and durations.
func normalize(s string, w *bench.World) string {
	for _, k := range w.Keys {
		ph := "<" + string(k.Kind) + " key id>" // as wide as the id: keeps the table aligned
		s = strings.ReplaceAll(s, k.ID, ph+strings.Repeat(".", max(0, len(k.ID)-len(ph))))
	}
	s = logTime.ReplaceAllString(s, "")
	return duration.ReplaceAllString(s, "AWS calls in <duration>")
}

// TestSweepCommand runs "fsxkms sweep" against a local stack and compares
// exit code, stdout and stderr with testdata/sweep/<name>.golden (go test
// -update rewrites them).
func TestSweepCommand(t *testing.T) {
	st, w := sweepStack(t)
	healthy := &bench.World{}
	for _, k := range w.Keys {
		if k.Kind == bench.Healthy {
			healthy.Keys = append(healthy.Keys, k)
		}
	}
	healthy.Spread(10)
	tests := []struct {
		name  string
		args  []string
		world *bench.World
		env   map[string]string
		fault string // FSx operation made to fail
		code  int
	}{
		{name: "table", args: []string{"sweep"}, world: w, code: 1},
		{name: "table-concurrency-1", args: []string{"sweep", "--concurrency", "1", "--region", "us-east-1"}, world: w, code: 1},
		{name: "all-compliant", args: []string{"sweep"}, world: healthy, code: 0},
		{name: "fsx-denied", args: []string{"sweep"}, world: w, fault: "DescribeBackups", code: 3},
		{name: "no-region", args: []string{"sweep"}, world: w, env: map[string]string{"AWS_REGION": "", "AWS_DEFAULT_REGION": ""}, code: 2},
		{name: "no-credentials", args: []string{"sweep"}, world: w, env: map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}, code: 2},
		{name: "no-such-profile", args: []string{"sweep"}, world: w, env: map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": "fsxkms-nosuch"}, code: 2},
		{name: "no-fsx", args: []string{"sweep", "--region", "us-east-1"}, world: &bench.World{}, code: 0},
		{name: "bad-setting", args: []string{"sweep"}, world: w, env: map[string]string{"SWEEP_CONCURRENCY": "lots"}, code: 2},
		{name: "bad-concurrency", args: []string{"sweep", "--concurrency", "0"}, world: w, code: 2},
		{name: "extra-argument", args: []string{"sweep", "us-east-1"}, world: w, code: 2},
		{name: "unknown-flag", args: []string{"sweep", "--yaml"}, world: w, code: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.world.Apply(st); err != nil {
				t.Fatal(err)
			}
			if tt.fault != "" {
				st.FSx.Inject(tt.fault, devstack.Fault{Type: "AccessDeniedException", Message: "not authorized to perform fsx:" + tt.fault})
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			code := run(tt.args, strings.NewReader(""), &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.code, &stderr)
			}
			got := normalize(transcript(code, stdout.String(), stderr.String()), w)
			testutil.Golden(t, filepath.Join("testdata", "sweep", tt.name+".golden"), []byte(got))
		})
	}

	t.Run("json", func(t *testing.T) {
		if err := w.Apply(st); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		if code := run([]string{"sweep", "--json"}, strings.NewReader(""), &stdout, &stderr); code != 1 {
			t.Errorf("exit code %d, want 1; stderr:\n%s", code, &stderr)
		}
		seen := map[string]alert.Alert{}
		sc := bufio.NewScanner(&stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var a alert.Alert
			if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
				t.Fatalf("stdout line is not an alert: %v: %s", err, sc.Text())
			}
			if a.Schema != alert.Schema || a.Trigger.Source != alert.SourceSweep {
				t.Errorf("alert schema %q, source %q", a.Schema, a.Trigger.Source)
			}
			seen[a.Key.ARN] = a
		}
		if len(seen) != len(w.Keys) {
			t.Fatalf("%d alerts, want one per key (%d)", len(seen), len(w.Keys))
		}
		for _, k := range w.Keys {
			a := seen[k.ARN]
			want := alert.Noncompliant
			switch k.Kind {
			case bench.Healthy, bench.OptionalDenied:
				want = alert.Compliant
			case bench.Indeterminate, bench.MonitorDenied, bench.ReadFailed:
				want = alert.Unknown
			}
			if a.Status != want {
				t.Errorf("%s key: status %s, want %s", k.Kind, a.Status, want)
			}
		}
		if !strings.Contains(stderr.String(), "12 keys, 40 FSx resources: 4 compliant, 5 noncompliant, 3 unknown (2 unreadable)") {
			t.Errorf("stderr lacks the summary line:\n%s", &stderr)
		}
	})

	// A slow KMS and a short --deadline: the keys read by then are judged,
	// the others are reported unknown and listed on stderr.
	t.Run("deadline", func(t *testing.T) {
		if err := w.Apply(st); err != nil {
			t.Fatal(err)
		}
		st.KMS.SetLatency(100 * time.Millisecond) // a key costs 3 or 4 calls
		defer st.KMS.SetLatency(0)
		var stdout, stderr bytes.Buffer
		start := time.Now()
		code := run([]string{"sweep", "--concurrency", "1", "--deadline", "2s"}, strings.NewReader(""), &stdout, &stderr)
		took := time.Since(start)
		if code != 1 {
			t.Errorf("exit code %d, want 1; stderr:\n%s", code, &stderr)
		}
		if took > 10*time.Second {
			t.Errorf("sweep with --deadline 2s took %s", took)
		}
		m := regexp.MustCompile(`fsxkms sweep: --deadline 2s passed: (\d+) of 12 keys not judged`).FindStringSubmatch(stderr.String())
		if m == nil {
			t.Fatalf("stderr does not say which keys were not judged:\n%s", &stderr)
		}
		n := strings.Count(stderr.String(), "  not judged: arn:aws:kms:")
		if fmt.Sprint(n) != m[1] || n == 0 || n == 12 {
			t.Errorf("%d keys listed as not judged, %s counted; want some but not all of 12:\n%s", n, m[1], &stderr)
		}
		if rows := strings.Count(stdout.String(), "\n"); rows != 12+2 {
			t.Errorf("table has %d lines, want a header, 12 keys and the summary:\n%s", rows, &stdout)
		}
		if !strings.Contains(stdout.String(), "MONITOR_READ_FAILED") {
			t.Errorf("table shows no unjudged key:\n%s", &stdout)
		}
		if code := run([]string{"sweep", "--deadline", "0s"}, strings.NewReader(""), &stdout, &stderr); code != 2 {
			t.Errorf("--deadline 0s: exit %d, want 2", code)
		}
	})
}

// TestSweepHelpConcurrency: the help states the --concurrency range the
// command enforces, monitor.MaxConcurrency.
func TestSweepHelpConcurrency(t *testing.T) {
	if want := fmt.Sprintf("keys read at once, 1 to %d ", monitor.MaxConcurrency); !strings.Contains(sweepHelp, want) {
		t.Errorf("sweep help does not say %q", want)
	}
}
