// Package localrun runs the real kms-events bootstrap under the Lambda Runtime
// Interface Emulator against the local AWS stack, seeded with the demo world,
// and collects the alerts it publishes as an SNS subscriber receives them.
//
// `make demo`, `make invoke` and the end-to-end test share it.
package localrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/internal/devstack/fsxserver"
	"github.com/fsxkms/fsxkms/internal/scenario"
	"github.com/fsxkms/fsxkms/pkg/alert"
)

// Topic is the name of the local alert topic.
const Topic = "fsxkms-alerts"

// Delivery is one alert as an SNS HTTP subscriber received it.
type Delivery struct {
	Subject    string
	Email      string          // the "email" part: what a mail client shows
	Chat       json.RawMessage // the "https" part: the AWS Chatbot custom notification
	Machine    alert.Alert     // the "default" part: the machine form
	Attributes map[string]string
}

// Env is a running local environment.
type Env struct {
	Stack     *devstack.Stack
	Lambda    *devstack.Lambda
	KMS       *kms.Client
	Grants    map[string][]string // grant ids by key ARN, from scenario.Setup
	TopicARN  string
	Bootstrap string // what the emulator runs: the binary, or its qemu-user wrapper

	sub        *httptest.Server
	deliveries chan Delivery
	stopOnce   sync.Once
}

// Options tune Start.
type Options struct {
	// Function is the folder under functions/ to build; kms-events when empty.
	Function string
	// Arch is the GOARCH of the bootstrap: this machine's when empty. "arm64"
	// is the architecture template.yaml ships; on another machine it runs
	// through qemu-user (see Build).
	Arch string
	// Env adds variables to the function's environment (KEY=value).
	Env []string
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// MemberAccounts makes the stack an organization with these member
	// accounts (devstack.Options.MemberAccounts).
	MemberAccounts []string
}

// Start builds the function (for this machine unless opts.Arch says
// otherwise), starts the local stack with the demo world and runs the
// bootstrap under the Lambda emulator.
func Start(ctx context.Context, opts Options) (_ *Env, err error) {
	logf := func(format string, args ...any) {
		if opts.Log != nil {
			fmt.Fprintf(opts.Log, format+"\n", args...)
		}
	}
	if opts.Function == "" {
		opts.Function = "kms-events"
	}
	e := &Env{deliveries: make(chan Delivery, 64)}
	defer func() {
		if err != nil {
			e.Stop()
		}
	}()

	logf("starting the local AWS stack (local-kms + grants proxy, goaws, FSx server)...")
	e.Stack, err = devstack.Start(ctx, devstack.Options{KMSSeed: scenario.SeedYAML(), Topics: []string{Topic},
		MemberAccounts: opts.MemberAccounts})
	if err != nil {
		return nil, err
	}
	inv, err := fsxserver.ParseInventory(scenario.InventoryJSON(scenario.Resources()))
	if err != nil {
		return nil, fmt.Errorf("localrun: inventory: %w", err)
	}
	if err := e.Stack.FSx.SetInventory(inv); err != nil {
		return nil, fmt.Errorf("localrun: inventory: %w", err)
	}
	// Point this process's SDK clients at the stack, as `. .devstack/env` does.
	if err := e.Stack.Setenv(); err != nil {
		return nil, err
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("localrun: %w", err)
	}
	e.KMS = kms.NewFromConfig(cfg)
	logf("seeding the demo world: 3 keys with FSx-style policies, FSx grants, %d FSx resources...", len(scenario.Resources()))
	if e.Grants, err = scenario.Setup(ctx, e.KMS); err != nil {
		return nil, err
	}
	if err := e.subscribe(ctx, sns.NewFromConfig(cfg)); err != nil {
		return nil, err
	}

	if e.Lambda, e.Bootstrap, err = e.startFunction(ctx, opts.Function, opts.Arch, opts.Env, logf); err != nil {
		return nil, err
	}
	return e, nil
}

// StartFunction builds functions/<name> for arch (this machine's when empty)
// and runs it under another Lambda emulator on e's stack, publishing to e's
// topic, with env (KEY=value) added to its environment. The caller stops it.
func (e *Env) StartFunction(ctx context.Context, name, arch string, env []string) (*devstack.Lambda, error) {
	l, _, err := e.startFunction(ctx, name, arch, env, func(string, ...any) {})
	return l, err
}

func (e *Env) startFunction(ctx context.Context, name, arch string, extra []string, logf func(string, ...any)) (*devstack.Lambda, string, error) {
	if arch == "" {
		arch = runtime.GOARCH
	}
	how := "natively"
	if arch != runtime.GOARCH {
		how = "through qemu-user"
	}
	logf("building functions/%s/bootstrap for linux/%s (run %s on this %s machine)...", name, arch, how, runtime.GOARCH)
	bootstrap, err := Build(ctx, name, filepath.Join(e.Stack.Dir, name+"-"+arch), arch)
	if err != nil {
		return nil, "", err
	}
	env := append(e.Stack.Env(), "ALERT_TOPIC_ARN="+e.TopicARN, "AWS_LAMBDA_FUNCTION_NAME=fsxkms-"+name)
	env = append(env, extra...)
	logf("starting the bootstrap under the Lambda Runtime Interface Emulator...")
	l, err := devstack.StartLambda(ctx, bootstrap, env)
	if err != nil {
		return nil, "", fmt.Errorf("localrun: functions/%s (linux/%s): %w", name, arch, err)
	}
	return l, bootstrap, nil
}

// qemuArch is the qemu-user name of each GOARCH Build can emulate.
var qemuArch = map[string]string{"arm64": "aarch64", "amd64": "x86_64"}

// Build compiles functions/<name> for linux/arch exactly as the Makefile's
// build target does (CGO_ENABLED=0, -tags lambda.norpc -trimpath
// -ldflags='-s -w'; arch is this machine's when empty) and returns the path
// of the bootstrap to give the Lambda emulator, in dir. When arch is not this
// machine's, the binary is dir/bootstrap-<arch> and dir/bootstrap is a
// wrapper script that runs it through qemu-user (Debian's qemu-user-static,
// for example qemu-aarch64-static for arm64); without it on PATH, Build
// fails saying how to install it.
func Build(ctx context.Context, name, dir, arch string) (string, error) {
	if arch == "" {
		arch = runtime.GOARCH
	}
	var qemu string
	if arch != runtime.GOARCH {
		q, ok := qemuArch[arch]
		if !ok {
			return "", fmt.Errorf("localrun: build functions/%s: cannot run linux/%s on %s (no qemu-user mapping)", name, arch, runtime.GOARCH)
		}
		var err error
		if qemu, err = exec.LookPath("qemu-" + q + "-static"); err != nil {
			return "", fmt.Errorf("localrun: functions/%s for linux/%s needs qemu-%s-static to run on this %s machine, and it is not on PATH: install Debian's qemu-user-static (apt-get install -y qemu-user-static; .ci/run does this when it is missing): %w", name, arch, q, runtime.GOARCH, err)
		}
	}
	root, err := devstack.RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "bootstrap")
	if qemu != "" {
		bin += "-" + arch
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", bin, "./functions/"+name)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("localrun: build functions/%s for linux/%s: %v\n%s", name, arch, err, b)
	}
	if qemu == "" {
		return bin, nil
	}
	wrapper := filepath.Join(dir, "bootstrap")
	script := fmt.Sprintf("#!/bin/sh\nexec %s %s \"$@\"\n", shellQuote(qemu), shellQuote(bin))
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		return "", fmt.Errorf("localrun: qemu wrapper for functions/%s: %w", name, err)
	}
	return wrapper, nil
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// subscribe points an HTTP subscription of the alert topic at a local
// server that collects deliveries.
func (e *Env) subscribe(ctx context.Context, client *sns.Client) error {
	topics, err := client.ListTopics(ctx, &sns.ListTopicsInput{})
	if err != nil {
		return fmt.Errorf("localrun: list topics: %w", err)
	}
	for _, t := range topics.Topics {
		if strings.HasSuffix(aws.ToString(t.TopicArn), ":"+Topic) {
			e.TopicARN = aws.ToString(t.TopicArn)
		}
	}
	if e.TopicARN == "" {
		return fmt.Errorf("localrun: topic %s missing from goaws", Topic)
	}
	e.sub = httptest.NewServer(http.HandlerFunc(e.receive))
	_, err = client.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(e.TopicARN), Protocol: aws.String("http"), Endpoint: aws.String(e.sub.URL + "/sns")})
	if err != nil {
		return fmt.Errorf("localrun: subscribe: %w", err)
	}
	return nil
}

// receive takes one SNS HTTP delivery. goaws sends HTTP subscribers the whole
// MessageStructure=json document (real SNS would send the "https" part).
func (e *Env) receive(w http.ResponseWriter, r *http.Request) {
	var env struct {
		Type              string
		Subject           string
		Message           string
		MessageAttributes map[string]struct{ Type, Value string }
	}
	if err := json.NewDecoder(r.Body).Decode(&env); err != nil || env.Type != "Notification" {
		return // SubscriptionConfirmation and the like
	}
	var doc struct {
		Default string `json:"default"`
		Email   string `json:"email"`
		HTTPS   string `json:"https"`
	}
	d := Delivery{Subject: env.Subject, Attributes: map[string]string{}}
	if err := json.Unmarshal([]byte(env.Message), &doc); err == nil {
		d.Email, d.Chat = doc.Email, json.RawMessage(doc.HTTPS)
		json.Unmarshal([]byte(doc.Default), &d.Machine)
	}
	for k, v := range env.MessageAttributes {
		d.Attributes[k] = v.Value
	}
	e.deliveries <- d
}

// Invoke sends one event to the function and returns its answer.
func (e *Env) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	return e.Lambda.Invoke(ctx, event)
}

// Next waits up to timeout for the next alert delivery.
func (e *Env) Next(timeout time.Duration) (Delivery, bool) {
	select {
	case d := <-e.deliveries:
		return d, true
	case <-time.After(timeout):
		return Delivery{}, false
	}
}

// Drain returns the deliveries that arrive within quiet of each other.
func (e *Env) Drain(quiet time.Duration) []Delivery {
	var ds []Delivery
	for {
		d, ok := e.Next(quiet)
		if !ok {
			return ds
		}
		ds = append(ds, d)
	}
}

// Stop stops the function, the subscriber and the stack.
func (e *Env) Stop() error {
	var errs []error
	e.stopOnce.Do(func() {
		if e.Lambda != nil {
			errs = append(errs, e.Lambda.Stop())
		}
		if e.sub != nil {
			e.sub.Close()
		}
		if e.Stack != nil {
			errs = append(errs, e.Stack.Stop())
		}
	})
	return errors.Join(errs...)
}
