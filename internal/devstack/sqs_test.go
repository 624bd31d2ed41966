package devstack_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/fsxkms/fsxkms/internal/devstack"
)

// receiveAll reads queue until a receive comes back empty. goaws delivers
// a Publish to every SQS subscription before it answers (gosns.Publish
// calls publishSQS for each), so once the publishes returned, an empty
// queue means nothing else is coming: no wait proves it.
func receiveAll(t *testing.T, queue string) []devstack.QueueMessage {
	t.Helper()
	var got []devstack.QueueMessage
	for {
		m, err := devstack.Current().ReceiveMessages(context.Background(), queue, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(m) == 0 {
			return got
		}
		got = append(got, m...)
	}
}

// TestSQSSubscriptions publishes through the SDK to a topic with a raw, a
// filtered raw and an envelope SQS subscription from Options, and reads
// each queue back.
func TestSQSSubscriptions(t *testing.T) {
	ctx := context.Background()
	c := sns.NewFromConfig(awsConfig(t))
	topic := "arn:aws:sns:us-east-1:111122223333:sqs-test"
	type msg struct{ body, severity string }
	sent := []msg{{`{"n":1,"text":"<ünïcødé & co>"}`, "CRITICAL"}, {`{"n":2}`, "WARNING"}}
	for _, m := range sent {
		_, err := c.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topic), Subject: aws.String("s"), Message: aws.String(m.body),
			MessageAttributes: map[string]snstypes.MessageAttributeValue{
				"severity": {DataType: aws.String("String"), StringValue: aws.String(m.severity)},
				"score":    {DataType: aws.String("Number"), StringValue: aws.String("9")},
			}})
		if err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}

	raw := receiveAll(t, "raw")
	if len(raw) != 2 {
		t.Fatalf("raw queue got %d messages, want 2", len(raw))
	}
	for i, m := range sent {
		if raw[i].Body != m.body {
			t.Errorf("raw[%d] body = %q, want the message verbatim %q", i, raw[i].Body, m.body)
		}
		want := map[string]devstack.MessageAttribute{
			"severity": {DataType: "String", StringValue: m.severity},
			"score":    {DataType: "Number", StringValue: "9"},
		}
		if len(raw[i].Attributes) != len(want) {
			t.Errorf("raw[%d] attributes = %+v, want %+v", i, raw[i].Attributes, want)
		}
		for k, w := range want {
			if g := raw[i].Attributes[k]; g.DataType != w.DataType || g.StringValue != w.StringValue || g.BinaryValue != nil {
				t.Errorf("raw[%d] attribute %s = %+v, want %+v", i, k, g, w)
			}
		}
		if raw[i].ID == "" {
			t.Errorf("raw[%d] has no message ID", i)
		}
	}

	crit := receiveAll(t, "critical")
	if len(crit) != 1 || crit[0].Body != sent[0].body {
		t.Errorf("critical queue got %+v, want only the CRITICAL message (filter policy)", crit)
	}

	env := receiveAll(t, "envelope")
	if len(env) != 2 {
		t.Fatalf("envelope queue got %d messages, want 2", len(env))
	}
	var e struct{ Type, TopicArn, Subject, Message string }
	if err := json.Unmarshal([]byte(env[0].Body), &e); err != nil {
		t.Fatalf("envelope body %q: %v", env[0].Body, err)
	}
	if e.Type != "Notification" || e.TopicArn != topic || e.Subject != "s" || e.Message != sent[0].body {
		t.Errorf("envelope = %+v, want a Notification of %s carrying %q", e, topic, sent[0].body)
	}

	// Received messages are deleted: nothing comes back.
	if again := receiveAll(t, "raw"); len(again) != 0 {
		t.Errorf("raw queue gave %d messages again after they were read", len(again))
	}
}

func TestReceiveMessagesErrors(t *testing.T) {
	ctx := context.Background()
	s := devstack.Current()
	if m, err := s.ReceiveMessages(ctx, "idle", 1); err != nil || len(m) != 0 {
		t.Errorf("empty queue: %v, %v; want no message and no error", m, err)
	}
	_, err := s.ReceiveMessages(ctx, "no-such-queue", 1)
	if err == nil || !strings.Contains(err.Error(), "no-such-queue") || !strings.Contains(err.Error(), "NonExistentQueue") {
		t.Errorf("missing queue: err = %v, want one naming the queue and NonExistentQueue", err)
	}
	for _, n := range []int{0, 11} {
		if _, err := s.ReceiveMessages(ctx, "idle", n); err == nil || !strings.Contains(err.Error(), "want 1 to 10") {
			t.Errorf("n = %d: err = %v, want a range error", n, err)
		}
	}
}

func TestStartBadSQSOptions(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts devstack.Options
		want string
	}{
		{"queue URL", devstack.Options{Queues: []string{"http://127.0.0.1:4100/111122223333/q"}}, `queue "http://`},
		{"topic ARN", devstack.Options{Topics: []string{"arn:aws:sns:us-east-1:111122223333:t"}}, `topic "arn:`},
		{"subscription topic ARN", devstack.Options{Subscriptions: []devstack.Subscription{{Topic: "arn:aws:sns:us-east-1:111122223333:t", Queue: "q"}}}, "subscription 0"},
		{"empty queue", devstack.Options{Subscriptions: []devstack.Subscription{{Topic: "t"}}}, "subscription 0"},
		{"policy not JSON", devstack.Options{Subscriptions: []devstack.Subscription{{Topic: "t", Queue: "q", FilterPolicy: `severity=CRITICAL`}}}, "filter policy severity=CRITICAL"},
		{"policy prefix match", devstack.Options{Subscriptions: []devstack.Subscription{{Topic: "t", Queue: "q", FilterPolicy: `{"severity": [{"prefix": "C"}]}`}}}, "lists of exact strings"},
		{"policy empty object", devstack.Options{Subscriptions: []devstack.Subscription{{Topic: "t", Queue: "q", FilterPolicy: `{}`}}}, "lists of exact strings"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantStartError(t, tt.opts, tt.want)
		})
	}
}
