// Command sweep is the scheduled Lambda function that checks every KMS key
// Amazon FSx uses: the safety net for events that never arrived. In the
// organization deployment (DEPLOYMENT=central) it only enqueues one work
// item per account and Region, which sweep-worker judges.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/fsxkms/fsxkms/internal/lambdalog"
	"github.com/fsxkms/fsxkms/internal/lambdamain"
	"github.com/fsxkms/fsxkms/pkg/monitor"
)

func main() {
	logs, settings, m := lambdamain.Setup("sweep", nil)
	// The scheduled event itself says nothing the sweep needs.
	if settings.Central {
		lambda.StartHandlerFunc(lambdalog.Func(logs, func(ctx context.Context, _ json.RawMessage) (map[string]int, error) {
			n, err := m.EnqueueSweep(ctx, settings.Summary)
			return map[string]int{"targets": n}, err
		}))
		return
	}
	opts := monitor.SweepOptions{Concurrency: settings.Concurrency, Summary: settings.Summary}
	lambda.StartHandlerFunc(lambdalog.Func(logs, func(ctx context.Context, _ json.RawMessage) (monitor.Summary, error) {
		s, _, err := m.Sweep(ctx, opts)
		return s, err
	}))
}
