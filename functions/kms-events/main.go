// Command kms-events is the Lambda function EventBridge invokes with KMS
// events (CloudTrail records of KMS calls and KMS's own events). For a key
// that Amazon FSx uses it re-checks the key as it is now and alerts.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/fsxkms/fsxkms/internal/lambdamain"
	"github.com/fsxkms/fsxkms/pkg/monitor"
)

// The monitor takes the raw payload, so that even input that is not JSON
// reaches fsxkms, is logged and is returned as an error.
var _ lambda.Handler = (*monitor.Monitor)(nil)

func main() {
	logs, _, m := lambdamain.Setup("kms-events", nil)
	lambda.Start(logs.Handler(m))
}
