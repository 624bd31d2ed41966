// Command sweepworld serves a local AWS stack loaded with a sweep world:
// keys healthy and broken in every way the check knows, and FSx file systems
// and backups that use them, so that "fsxkms sweep" can be tried by hand.
//
// Usage:
//
//	go run ./internal/bench/cmd/sweepworld -env /tmp/sweepworld.env &
//	. /tmp/sweepworld.env && fsxkms sweep
//
// It runs until interrupted, then stops the stack. The faults that make
// the monitor-denied and read-failed keys fail live in this process.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/fsxkms/fsxkms/internal/bench"
	"github.com/fsxkms/fsxkms/internal/devstack"
)

func main() {
	healthy := flag.Int("healthy", 3, "healthy keys")
	broken := flag.Int("broken", 1, "keys of each broken kind")
	resources := flag.Int("resources", 40, "FSx file systems and backups")
	latency := flag.Duration("latency", 0, "latency added to every KMS and FSx call")
	envFile := flag.String("env", "", "write the stack's environment (export lines) to this file")
	flag.Parse()
	if err := serve(*healthy, *broken, *resources, *latency, *envFile); err != nil {
		fmt.Fprintln(os.Stderr, "sweepworld:", err)
		os.Exit(1)
	}
}

func serve(healthy, broken, resources int, latency time.Duration, envFile string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := devstack.Start(ctx, devstack.Options{})
	if err != nil {
		return err
	}
	defer st.Stop()
	if err := st.Setenv(); err != nil {
		return err
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	w, err := bench.Build(ctx, kms.NewFromConfig(cfg), bench.Spec{Healthy: healthy, EachBroken: broken, Resources: resources})
	if err != nil {
		return err
	}
	if err := w.Apply(st); err != nil {
		return err
	}
	st.KMS.SetLatency(latency)
	st.FSx.SetLatency(latency)
	var env strings.Builder
	for _, kv := range st.Env() {
		fmt.Fprintf(&env, "export %s\n", kv)
	}
	if envFile != "" {
		if err := os.WriteFile(envFile, []byte(env.String()), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("%s# %d keys, %d FSx resources; serving until interrupted\n", env.String(), len(w.Keys), len(w.Resources))
	<-ctx.Done()
	return nil
}
