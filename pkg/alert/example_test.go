package alert_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/fsxkms/fsxkms/pkg/alert"
)

func ExampleAlert_Email() {
	a := alert.Alert{
		Status: alert.Noncompliant,
		Key: alert.Key{ARN: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
			State: "Disabled", Manager: "CUSTOMER", Aliases: []string{"alias/fsx-prod"}},
		Trigger: alert.Trigger{Source: "cloudtrail", EventName: "DisableKey"},
		Resources: []alert.Resource{{Type: "file-system", ID: "fs-0123456789abcdef0",
			FileSystemType: "ONTAP", Lifecycle: "AVAILABLE"}},
		Findings: []alert.Finding{{Code: "KEY_DISABLED", Severity: alert.Critical,
			Message:     "FSx cannot decrypt with a disabled key.",
			Remediation: "aws kms enable-key --key-id 1234abcd-12ab-34cd-56ef-1234567890ab --region us-east-1"}},
	}
	subject, _ := a.Email()
	fmt.Println(subject)
	// Output: [CRITICAL] KMS key alias/fsx-prod was disabled; 1 FSx resource at risk
}

func ExampleNewWriter() {
	w := alert.NewWriter(os.Stdout)
	_ = w.Publish(context.Background(), alert.Alert{
		Status:   alert.Compliant,
		Key:      alert.Key{ARN: "arn:aws:kms:us-east-1:111122223333:key/k1", State: "Enabled", Manager: "CUSTOMER"},
		Trigger:  alert.Trigger{Source: "cloudtrail", EventName: "EnableKey", EventTime: time.Date(2026, 5, 4, 9, 40, 2, 0, time.UTC)},
		Findings: []alert.Finding{{Code: "RESTORED", Severity: alert.Info}},
	})
	// Output:
	// {"schema":"fsxkms.alert.v1","severity":"INFO","status":"COMPLIANT","title":"KMS key k1 is usable by FSx again","account":"111122223333","region":"us-east-1","key":{"arn":"arn:aws:kms:us-east-1:111122223333:key/k1","state":"Enabled","manager":"CUSTOMER","aliases":[]},"trigger":{"source":"cloudtrail","eventName":"EnableKey","eventId":"","eventTime":"2026-05-04T09:40:02Z","actor":"","sourceIp":"","failed":false,"errorCode":""},"resources":[],"findings":[{"code":"RESTORED","severity":"INFO","action":"","decision":"","statements":[],"message":"","remediation":""}]}
}

func ExampleFilter() {
	// Alerts below WARNING are dropped (and logged); the others go on.
	p := alert.Filter(alert.NewWriter(os.Stdout), alert.Warning,
		alert.WithLogger(slog.New(slog.DiscardHandler)))
	_ = p.Publish(context.Background(), alert.Alert{Severity: alert.Info})
	fmt.Println("done")
	// Output: done
}
