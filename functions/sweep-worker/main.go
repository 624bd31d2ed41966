// Command sweep-worker is the organization deployment's sweep worker: each
// SQS message the scheduled sweep enqueued names one account and Region,
// which it sweeps with that account's read role. The SQS event source's
// maximum concurrency bounds how many accounts are read at once.
package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/fsxkms/fsxkms/internal/lambdalog"
	"github.com/fsxkms/fsxkms/internal/lambdamain"
	"github.com/fsxkms/fsxkms/pkg/monitor"
)

func main() {
	logs, settings, m := lambdamain.Setup("sweep-worker", func(s monitor.Settings) string {
		if !s.Central {
			return "sweep-worker runs in the organization deployment only (DEPLOYMENT=central)"
		}
		return ""
	})
	// One summary per account and Region would be noise: the worker sends
	// none unless SWEEP_SUMMARY=always.
	summary := monitor.SummaryNever
	if settings.Summary == monitor.SummaryAlways {
		summary = monitor.SummaryAlways
	}
	opts := monitor.SweepOptions{Concurrency: settings.Concurrency, Summary: summary}
	lambda.StartHandlerFunc(lambdalog.Func(logs, func(ctx context.Context, ev events.SQSEvent) (monitor.Summary, error) {
		var total monitor.Summary
		var errs []error
		for _, msg := range ev.Records {
			t, err := monitor.ParseTarget(msg.Body)
			if err != nil {
				errs = append(errs, fmt.Errorf("message %s: %w", msg.MessageId, err))
				continue
			}
			s, _, err := m.SweepAccount(ctx, t, opts)
			if err != nil {
				errs = append(errs, err)
			}
			total.Add(s)
		}
		return total, errors.Join(errs...)
	}))
}
