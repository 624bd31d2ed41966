package alert

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/fsxkms/fsxkms/internal/devstack"
)

// The local stack's topic has two raw SQS subscriptions: every alert, and
// (by filter policy on the severity attribute) CRITICAL ones only.
const (
	alertsTopicName = "fsxkms-alerts"
	rawQueue        = "alerts-raw"
	criticalQueue   = "alerts-critical"
)

// TestMain runs the package's tests against the local AWS stack
// (internal/devstack), whose goaws serves the alerts topic and queues.
func TestMain(m *testing.M) {
	os.Exit(devstack.Main(m, devstack.Options{
		Subscriptions: []devstack.Subscription{
			{Topic: alertsTopicName, Queue: rawQueue, Raw: true},
			{Topic: alertsTopicName, Queue: criticalQueue, Raw: true, FilterPolicy: `{"severity": ["CRITICAL"]}`},
		},
	}))
}

// topicARN returns the ARN of the stack's topic name.
func topicARN(name string) string {
	s := devstack.Current()
	return "arn:aws:sns:" + s.Region + ":" + s.Account + ":" + name
}

// take returns every message queue holds, oldest first, and deletes them.
// goaws delivers to its subscribers before SNS Publish returns (its
// gosns.Publish calls each SQS and HTTP subscription in turn), so once
// Publish has returned the queue holds all it will get: take needs no wait,
// and what it does not return did not arrive.
func take(t *testing.T, queue string) []devstack.QueueMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var got []devstack.QueueMessage
	for {
		msgs, err := devstack.Current().ReceiveMessages(ctx, queue, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			return got
		}
		got = append(got, msgs...)
	}
}

// emptyQueues empties the stack's queues now and again when the test ends:
// a test reads only what it published, and leaves nothing for the next one
// (or for the next run, with -count).
func emptyQueues(t *testing.T) {
	t.Helper()
	empty := func() {
		take(t, rawQueue)
		take(t, criticalQueue)
	}
	empty()
	t.Cleanup(empty)
}

// attrs returns m's message attributes as DataType:StringValue by name.
func attrs(m devstack.QueueMessage) map[string]string {
	out := map[string]string{}
	for k, a := range m.Attributes {
		out[k] = a.DataType + ":" + a.StringValue
	}
	return out
}
