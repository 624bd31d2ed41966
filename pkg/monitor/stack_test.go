package monitor_test

// The helpers of this file, used by the tests of every file, run the
// package's tests on the local AWS stack (devstack) TestMain starts: the
// demo world, the FSx inventory, the stack's AWS configuration, and monitors
// built as the Lambda builds them, with the alerts they publish.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/internal/devstack/fsxserver"
	"github.com/fsxkms/fsxkms/internal/scenario"
	"github.com/fsxkms/fsxkms/pkg/alert"
	"github.com/fsxkms/fsxkms/pkg/monitor"
)

func TestMain(m *testing.M) {
	if os.Getenv(coldStartEnv) != "" {
		// TestStateColdStart's new process: its parent's stack, whose
		// endpoints are in the environment.
		os.Exit(m.Run())
	}
	// Two member accounts besides the stack's own, for the organization
	// deployment's tests (orgstack_test.go).
	os.Exit(devstack.Main(m, devstack.Options{KMSSeed: scenario.SeedYAML(), MemberAccounts: []string{memberA, memberB}}))
}

// world resets the local stack to the demo world and returns a KMS client
// and the grants Setup made.
func world(t testing.TB) (*kms.Client, map[string][]string) {
	t.Helper()
	ctx := context.Background()
	st := devstack.Current()
	st.KMS.ClearFaults()
	st.KMS.ClearGrants()
	st.FSx.ClearFaults()
	setInventory(t, scenario.Resources())
	client := kms.NewFromConfig(awsConfig(t))
	// Undo what earlier tests did to the keys.
	for _, id := range []string{scenario.ProdKeyID, scenario.BackupKeyID, scenario.OtherKeyID} {
		client.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(id)}) // fails when not pending: fine
	}
	grants, err := scenario.Setup(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	st.KMS.ResetCalls()
	st.FSx.ResetCalls()
	return client, grants
}

// setInventory makes rs what the local stack's FSx answers.
func setInventory(t testing.TB, rs []scenario.Resource) {
	t.Helper()
	setInventoryFor(t, devstack.Current().Account, scenario.InventoryJSON(rs))
}

// setInventoryFor makes the inventory document doc (fsxserver.ParseInventory's
// form) what the FSx of account, one of the local stack's, answers.
func setInventoryFor(t testing.TB, account string, doc []byte) {
	t.Helper()
	inv, err := fsxserver.ParseInventory(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := devstack.Current().SetInventoryFor(account, inv); err != nil {
		t.Fatal(err)
	}
}

// awsConfig is the AWS configuration of the local stack, whose endpoints
// and credentials are in the environment.
func awsConfig(t testing.TB) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// stateTable creates a state table for one test, as the devstack creates
// the template's, so tests never see each other's items.
func stateTable(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("state-%d", time.Now().UnixNano())
	if err := devstack.Current().CreateStateTable(context.Background(), name); err != nil {
		t.Fatalf("create state table: %v", err)
	}
	return name
}

// createKey creates a KMS key with policy and description and returns its
// ARN and id.
func createKey(t testing.TB, client *kms.Client, policy, description string) (arn, id string) {
	t.Helper()
	out, err := client.CreateKey(context.Background(), &kms.CreateKeyInput{Policy: aws.String(policy), Description: aws.String(description)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.KeyMetadata.Arn), aws.ToString(out.KeyMetadata.KeyId)
}

// disable disables key (an ARN or id).
func disable(t testing.TB, client *kms.Client, key string) {
	t.Helper()
	if _, err := client.DisableKey(context.Background(), &kms.DisableKeyInput{KeyId: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
}

// enable enables key (an ARN or id).
func enable(t testing.TB, client *kms.Client, key string) {
	t.Helper()
	if _, err := client.EnableKey(context.Background(), &kms.EnableKeyInput{KeyId: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
}

// newMonitor builds the monitor the Lambda builds, on the local stack, with
// no alert state and alerts written as machine-form JSON lines into the
// returned buffer.
func newMonitor(t testing.TB) (*monitor.Monitor, *bytes.Buffer) {
	t.Helper()
	return monitorWith(t, nil, noBackoff)
}

// lambdaMonitor builds the monitor the Lambda builds with the environment
// env (nothing else of the process's is read) and optFns on its AWS
// config, publishing where the Lambda's publishes (to stdout without
// ALERT_TOPIC_ARN), logging and emitting metrics nowhere.
func lambdaMonitor(t testing.TB, env map[string]string, optFns ...func(*config.LoadOptions) error) *monitor.Monitor {
	t.Helper()
	s, err := monitor.SettingsFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	m, err := monitor.NewAWS(context.Background(), s, "test", optFns...)
	if err != nil {
		t.Fatal(err)
	}
	m.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	m.Metrics = io.Discard
	return m
}

// monitorWith is lambdaMonitor alerting into the returned buffer instead
// (safely from monitors racing on it).
func monitorWith(t testing.TB, env map[string]string, optFns ...func(*config.LoadOptions) error) (*monitor.Monitor, *bytes.Buffer) {
	t.Helper()
	m := lambdaMonitor(t, env, optFns...)
	var out bytes.Buffer
	m.Alerts = &lockedWriter{w: alert.NewWriter(&out)}
	return m, &out
}

// noBackoff gives the monitor's clients the production retry policy without
// its waits, so throttling tests take milliseconds, not the SDK's backoff.
var noBackoff = config.WithRetryer(func() aws.Retryer { return monitor.Retryer(true) })

// alerts decodes the alerts published into b (one machine-form JSON line
// each) and empties b.
func alerts(t *testing.T, b *bytes.Buffer) []alert.Alert {
	t.Helper()
	var as []alert.Alert
	sc := bufio.NewScanner(b)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var a alert.Alert
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("alert line is not JSON: %v: %s", err, sc.Text())
		}
		as = append(as, a)
	}
	b.Reset()
	return as
}

// codes are the codes of a's findings, in order.
func codes(a alert.Alert) []string {
	var cs []string
	for _, f := range a.Findings {
		cs = append(cs, string(f.Code))
	}
	return cs
}
