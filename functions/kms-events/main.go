// Command kms-events is the Lambda function EventBridge invokes with KMS
// events (CloudTrail records of KMS calls and KMS's own events). For a key
// that Amazon FSx uses it re-checks the key as it is now and alerts.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/fsxkms/fsxkms/internal/lambdalog"
	"github.com/fsxkms/fsxkms/pkg/monitor"
)

// The monitor takes the raw payload, so that even input that is not JSON
// reaches fsxkms, is logged and is returned as an error.
var _ lambda.Handler = (*monitor.Monitor)(nil)

func main() {
	logs := lambdalog.New(os.Stdout)
	settings, err := monitor.SettingsFromEnv(os.Getenv)
	if err != nil {
		logs.Error("bad configuration", "error", err.Error())
		os.Exit(1)
	}
	m, err := monitor.NewAWS(context.Background(), settings, "kms-events")
	if err != nil {
		logs.Error("cannot start", "error", err.Error())
		os.Exit(1)
	}
	m.Log = logs.Logger
	lambda.Start(logs.Handler(m))
}
