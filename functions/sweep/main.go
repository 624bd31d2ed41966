// Command sweep is the scheduled Lambda function that checks every KMS key
// Amazon FSx uses: the safety net for events that never arrived.
package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/fsxkms/fsxkms/internal/lambdalog"
	"github.com/fsxkms/fsxkms/pkg/monitor"
)

func main() {
	logs := lambdalog.New(os.Stdout)
	settings, err := monitor.SettingsFromEnv(os.Getenv)
	if err != nil {
		logs.Error("bad configuration", "error", err.Error())
		os.Exit(1)
	}
	m, err := monitor.NewAWS(context.Background(), settings, "sweep")
	if err != nil {
		logs.Error("cannot start", "error", err.Error())
		os.Exit(1)
	}
	m.Log = logs.Logger
	if settings.Central {
		// The organization deployment: enqueue one work item per account
		// and Region; sweep-worker judges them.
		lambda.StartHandlerFunc(lambdalog.Func(logs, func(ctx context.Context, _ json.RawMessage) (map[string]int, error) {
			n, err := m.EnqueueSweep(ctx)
			return map[string]int{"targets": n}, err
		}))
		return
	}
	opts := monitor.SweepOptions{Concurrency: settings.Concurrency, Summary: settings.Summary}
	// The scheduled event itself says nothing the sweep needs.
	lambda.StartHandlerFunc(lambdalog.Func(logs, func(ctx context.Context, _ json.RawMessage) (monitor.Summary, error) {
		s, _, err := m.Sweep(ctx, opts)
		return s, err
	}))
}
