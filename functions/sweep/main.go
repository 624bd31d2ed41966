// Command sweep is the scheduled Lambda function that checks every KMS key
// Amazon FSx uses: the safety net for events that never arrived.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/fsxkms/fsxkms/pkg/monitor"
)

func main() {
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stdout, nil)))
	settings, err := monitor.SettingsFromEnv(os.Getenv)
	if err != nil {
		slog.Error("bad configuration", "error", err.Error())
		os.Exit(1)
	}
	m, err := monitor.NewAWS(context.Background(), settings, "sweep")
	if err != nil {
		slog.Error("cannot start", "error", err.Error())
		os.Exit(1)
	}
	opts := monitor.SweepOptions{Concurrency: settings.Concurrency, Summary: settings.Summary}
	lambda.Start(func(ctx context.Context) (monitor.Summary, error) {
		s, _, err := m.Sweep(ctx, opts)
		return s, err
	})
}
