package devstack_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/fsxkms/fsxkms/internal/devstack"
)

// TestMain runs the package's tests against one stack (devstack.Current),
// with the FSx test inventory and the topics, queues and subscriptions the
// SNS and SQS tests use.
func TestMain(m *testing.M) {
	os.Exit(devstack.Main(m, devstack.Options{
		Inventory: "fsxserver/testdata/inventory.json",
		Topics:    []string{"kms-alerts"},
		Queues:    []string{"idle"},
		Subscriptions: []devstack.Subscription{
			{Topic: "sqs-test", Queue: "raw", Raw: true},
			{Topic: "sqs-test", Queue: "critical", Raw: true, FilterPolicy: `{"severity": ["CRITICAL"]}`},
			{Topic: "sqs-test", Queue: "envelope"},
		},
	}))
}

// awsConfig loads the SDK's default configuration, which the stack's
// environment (Setenv in Main) points at the local servers.
func awsConfig(t *testing.T) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatalf("LoadDefaultConfig: %v", err)
	}
	return cfg
}

// wantLocalEndpoint checks that the environment variable name (set by
// Main) is the stack's endpoint want, on 127.0.0.1.
func wantLocalEndpoint(t *testing.T, name, want string) {
	t.Helper()
	if got := os.Getenv(name); got != want || !strings.HasPrefix(got, "http://127.0.0.1:") {
		t.Fatalf("%s = %q, want %q on 127.0.0.1", name, got, want)
	}
}
