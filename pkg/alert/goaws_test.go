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

// receive reads messages from queue once, then polls until want arrived or
// 5 seconds passed. Read messages are deleted from the queue.
func receive(t *testing.T, queue string, want int) []devstack.QueueMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var got []devstack.QueueMessage
	for first := true; first || (len(got) < want && ctx.Err() == nil); first = false {
		msgs, err := devstack.Current().ReceiveMessages(ctx, queue, 10)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			t.Fatal(err)
		}
		got = append(got, msgs...)
		if len(msgs) == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	return got
}

// drain reads whatever queue holds after a short wait for deliveries.
func drain(t *testing.T, queue string) []devstack.QueueMessage {
	t.Helper()
	got := receive(t, queue, 1)
	time.Sleep(100 * time.Millisecond)
	return append(got, receive(t, queue, 0)...)
}

// attrs returns m's message attributes as DataType:StringValue by name.
func attrs(m devstack.QueueMessage) map[string]string {
	out := map[string]string{}
	for k, a := range m.Attributes {
		out[k] = a.DataType + ":" + a.StringValue
	}
	return out
}
