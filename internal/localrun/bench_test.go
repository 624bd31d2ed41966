package localrun_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/internal/scenario"
)

// BenchmarkColdStart starts the kms-events bootstrap under the Lambda
// emulator, sends one relevant event, and reports the time from the
// emulator's start to the first answer and the bootstrap's peak RSS.
//
//	go test -run '^$' -bench ColdStart -benchtime 10x ./internal/localrun
func BenchmarkColdStart(b *testing.B) {
	ctx := context.Background()
	event := scenario.APICall(scenario.CallFor("DisableKey", scenario.KeyARN(scenario.ProdKeyID)))
	vars := append(env.Stack.Env(), "ALERT_TOPIC_ARN="+env.TopicARN)
	var total time.Duration
	var peak int
	for i := 0; i < b.N; i++ {
		l, err := devstack.StartLambda(ctx, env.Bootstrap, vars)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := l.Invoke(ctx, event); err != nil {
			l.Stop()
			b.Fatal(err)
		}
		total += l.FirstAnswer()
		if kb, err := childHWM(l.Pid()); err == nil {
			peak = max(peak, kb)
		} else {
			b.Log(err)
		}
		l.Stop()
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms-to-first-answer")
	b.ReportMetric(float64(peak)/1024, "peak-RSS-MB")
}

// BenchmarkWarmInvoke sends one relevant event to the warm function: the
// whole round trip through the emulator, including its 4 KMS calls and the
// SNS publish on loopback.
func BenchmarkWarmInvoke(b *testing.B) {
	ctx := context.Background()
	event := scenario.APICall(scenario.CallFor("DisableKey", scenario.KeyARN(scenario.ProdKeyID)))
	for i := 0; i < b.N; i++ {
		if _, err := env.Invoke(ctx, event); err != nil {
			b.Fatal(err)
		}
	}
}

// childHWM returns the peak resident set (VmHWM, KiB) of the bootstrap
// process that the emulator with pid ppid started.
func childHWM(ppid int) (int, error) {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		close := strings.LastIndexByte(s, ')')
		if close < 0 || !strings.Contains(s[:close], "(bootstrap") {
			continue
		}
		f := strings.Fields(s[close+1:])
		if len(f) < 2 || f[1] != strconv.Itoa(ppid) {
			continue
		}
		return vmHWM(filepath.Join(filepath.Dir(st), "status"))
	}
	return 0, fmt.Errorf("no bootstrap child of pid %d found", ppid)
}

func vmHWM(status string) (int, error) {
	f, err := os.Open(status)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("%s: no VmHWM", status)
}
