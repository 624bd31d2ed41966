package devstack_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/fsxkms/fsxkms/internal/devstack"
)

// TestEventSink: an event put on a sink's bus through the environment's
// AWS_ENDPOINT_URL_EVENTBRIDGE reaches its queue when it matches the rule,
// with its detail as sent, and only then.
func TestEventSink(t *testing.T) {
	ctx := context.Background()
	st := devstack.Current()
	wantLocalEndpoint(t, "AWS_ENDPOINT_URL_EVENTBRIDGE", st.EventBridgeEndpoint)
	sink := st.NewTestEventSink(t, "sink", `{"source":["fsxkms"],"detail":{"severity":["CRITICAL"]}}`)
	out, err := eventbridge.NewFromConfig(awsConfig(t)).PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("fsxkms"), DetailType: aws.String("fsxkms Alert"), Detail: aws.String(`{"severity":"CRITICAL","n":1}`), EventBusName: aws.String(sink.BusARN)},
		{Source: aws.String("fsxkms"), DetailType: aws.String("fsxkms Alert"), Detail: aws.String(`{"severity":"INFO"}`), EventBusName: aws.String(sink.BusARN)},
	}})
	if err != nil || out.FailedEntryCount != 0 {
		t.Fatalf("PutEvents: %v, %d failed", err, out.FailedEntryCount)
	}
	evs, err := sink.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Source != "fsxkms" || evs[0].DetailType != "fsxkms Alert" {
		t.Fatalf("received %+v, want the one CRITICAL event", evs)
	}
	var d map[string]any
	if err := json.Unmarshal(evs[0].Detail, &d); err != nil || d["n"] != 1.0 {
		t.Errorf("detail %s, want the detail sent", evs[0].Detail)
	}
	if evs, _ := sink.Receive(ctx); len(evs) != 0 {
		t.Errorf("a second Receive got %d events, want none", len(evs))
	}
}

// TestSecurityHubAndSTS: the environment points Security Hub and STS at
// their stand-ins; STS answers GetCallerIdentity with the stack's account
// for its dummy credentials (pkg/securityhub's exporter asks it).
func TestSecurityHubAndSTS(t *testing.T) {
	ctx := context.Background()
	st := devstack.Current()
	wantLocalEndpoint(t, "AWS_ENDPOINT_URL_SECURITYHUB", st.SecurityHubEndpoint)
	wantLocalEndpoint(t, "AWS_ENDPOINT_URL_STS", st.STSEndpoint)
	cfg := awsConfig(t)
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Account) != st.Account {
		t.Fatalf("GetCallerIdentity: %v, account %q, want %s", err, aws.ToString(id.Account), st.Account)
	}
	if _, err := securityhub.NewFromConfig(cfg).GetFindings(ctx, &securityhub.GetFindingsInput{}); err != nil {
		t.Fatalf("GetFindings on the stand-in: %v", err)
	}
}
