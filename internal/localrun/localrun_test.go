package localrun_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/internal/localrun"
	"github.com/fsxkms/fsxkms/internal/scenario"
	"github.com/fsxkms/fsxkms/pkg/state"
)

var env *localrun.Env

func TestMain(m *testing.M) {
	var err error
	env, err = localrun.Start(context.Background(), localrun.Options{Log: os.Stderr})
	if err != nil {
		os.Stderr.WriteString("localrun: cannot start the function on the local stack: " + err.Error() + "\n")
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		code = 1
	}
	os.Exit(code)
}

// TestEndToEnd runs the built bootstrap under the Lambda emulator: a key FSx
// uses is disabled, the DisableKey event is invoked, and the alert that an SNS
// subscriber receives is checked in all three renderings. It runs once for
// this machine's architecture and once for arm64, the one template.yaml ships:
// on an amd64 machine that bootstrap runs through qemu-user
// (qemu-aarch64-static), and without it the test fails saying how to
// install it.
func TestEndToEnd(t *testing.T) {
	arches := []string{runtime.GOARCH}
	if runtime.GOARCH != "arm64" {
		arches = append(arches, "arm64")
	}
	for _, arch := range arches {
		t.Run(arch, func(t *testing.T) {
			ctx := context.Background()
			fn := env.Lambda
			if arch != runtime.GOARCH {
				start := time.Now()
				var err error
				if fn, err = env.StartFunction(ctx, "kms-events", arch, nil); err != nil {
					t.Fatal(err)
				}
				defer fn.Stop()
				t.Logf("built functions/kms-events for linux/%s and started it under the Lambda emulator in %v", arch, time.Since(start).Round(time.Millisecond))
			}
			start := time.Now()
			endToEnd(t, fn)
			t.Logf("linux/%s bootstrap on %s: event to checked alert in %v", arch, runtime.GOARCH, time.Since(start).Round(time.Millisecond))
		})
	}
}

// forgetState deletes what the functions' alert state holds about the demo
// keys (the stack's STATE_TABLE), so a test that wants an alert gets one
// whatever ran before it: the functions say each problem once.
func forgetState(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tbl := &state.Table{Client: dynamodb.NewFromConfig(cfg), Name: env.Stack.StateTable}
	for _, id := range []string{scenario.ProdKeyID, scenario.BackupKeyID} {
		items, err := tbl.Items(ctx, scenario.KeyARN(id))
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if err := tbl.Supersede(ctx, it); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// endToEnd is TestEndToEnd on one running function.
func endToEnd(t *testing.T, fn *devstack.Lambda) {
	ctx := context.Background()
	forgetState(t)
	prod := scenario.KeyARN(scenario.ProdKeyID)
	if _, err := env.KMS.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(prod)}); err != nil {
		t.Fatal(err)
	}
	defer env.KMS.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(prod)})
	env.Drain(100 * time.Millisecond)

	answer, err := fn.Invoke(ctx, scenario.APICall(scenario.CallFor("DisableKey", prod)))
	if err != nil {
		t.Fatalf("invoke: %v\n%s", err, fn.Log())
	}
	var res struct{ Checked, Alerts int }
	if err := json.Unmarshal(answer, &res); err != nil || res.Checked != 1 || res.Alerts != 1 {
		t.Fatalf("answer %s (%v), want 1 key checked and 1 alert", answer, err)
	}
	d, ok := env.Next(10 * time.Second)
	if !ok {
		t.Fatal("no alert reached the SNS subscriber")
	}
	if d.Machine.Schema != "fsxkms.alert.v1" || d.Machine.Severity != "CRITICAL" || d.Machine.Status != "NONCOMPLIANT" {
		t.Errorf("machine form: schema %q severity %q status %q", d.Machine.Schema, d.Machine.Severity, d.Machine.Status)
	}
	if len(d.Machine.Findings) == 0 || d.Machine.Findings[0].Code != "KEY_DISABLED" {
		t.Errorf("findings %+v, want KEY_DISABLED first", d.Machine.Findings)
	}
	if len(d.Machine.Resources) != 5 {
		t.Errorf("resources %d, want the 5 FSx resources on the key", len(d.Machine.Resources))
	}
	for k, v := range map[string]string{"severity": "CRITICAL", "code": "KEY_DISABLED", "key_id": scenario.ProdKeyID, "event_name": "DisableKey", "account": scenario.Account, "region": scenario.Region} {
		if d.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, d.Attributes[k], v)
		}
	}
	if d.Subject == "" || len(d.Subject) >= 100 || d.Email == "" {
		t.Errorf("email: subject %q, body %d bytes", d.Subject, len(d.Email))
	}
	var card struct {
		Version, Source string
		Content         struct{ TextType, Title string } `json:"content"`
	}
	if err := json.Unmarshal(d.Chat, &card); err != nil || card.Version != "1.0" || card.Source != "custom" || card.Content.TextType != "client-markdown" {
		t.Errorf("chat card %s: %v", d.Chat, err)
	}
}

// TestBuildWithoutQemu: a bootstrap for another architecture needs
// qemu-user; without it Build fails, naming the package to install, before
// building anything.
func TestBuildWithoutQemu(t *testing.T) {
	arch := "arm64"
	if runtime.GOARCH == "arm64" {
		arch = "amd64"
	}
	t.Setenv("PATH", t.TempDir()) // no qemu-*-static (and no go) on PATH
	_, err := localrun.Build(context.Background(), "kms-events", t.TempDir(), arch)
	if err == nil || !strings.Contains(err.Error(), "-static") || !strings.Contains(err.Error(), "apt-get install -y qemu-user-static") {
		t.Fatalf("Build for linux/%s without qemu on PATH: err %v, want one saying to install qemu-user-static", arch, err)
	}
}

// TestEverySample sends every file of events/ to the function: each must be
// judged (no function error), whatever the key's state.
func TestEverySample(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "events", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample events: %v", err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := env.Invoke(context.Background(), raw); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
	env.Drain(200 * time.Millisecond)
}
