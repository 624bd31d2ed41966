// Command kms-events is the Lambda function EventBridge invokes with KMS
// events (CloudTrail records of KMS calls and KMS's own events). For a key
// that Amazon FSx uses it re-checks the key as it is now and alerts.
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
	m, err := monitor.NewAWS(context.Background(), settings, "kms-events")
	if err != nil {
		slog.Error("cannot start", "error", err.Error())
		os.Exit(1)
	}
	// m is a lambda.Handler: it gets the raw bytes, so that even input that
	// is not JSON reaches fsxkms, is logged and is returned as an error.
	lambda.Start(m)
}
