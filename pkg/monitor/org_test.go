package monitor_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/pkg/monitor"
)

func TestTargets(t *testing.T) {
	ts, err := monitor.Targets(context.Background(), nil, "111122223333", []string{"333344445555", "222233334444", "111122223333"},
		[]string{"us-east-1", "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range ts {
		got = append(got, x.Account+"/"+x.Region)
	}
	want := []string{"111122223333/us-east-1", "111122223333/eu-west-1", "222233334444/us-east-1", "222233334444/eu-west-1",
		"333344445555/us-east-1", "333344445555/eu-west-1"}
	if !slices.Equal(got, want) {
		t.Errorf("targets %v\nwant    %v", got, want)
	}
	if _, err := monitor.Targets(context.Background(), nil, "111122223333", []string{"12345"}, []string{"us-east-1"}); err == nil {
		t.Error("a malformed member account was accepted")
	}
	if _, err := monitor.Targets(context.Background(), nil, "111122223333", nil, []string{"us-east-1"}); err == nil {
		t.Error("no members and no Organizations client: no error")
	}
}

func TestParseTarget(t *testing.T) {
	if tg, err := monitor.ParseTarget(`{"account":"222233334444","region":"eu-west-1","name":"prod"}`); err != nil ||
		tg != (monitor.Target{Account: "222233334444", Region: "eu-west-1", Name: "prod"}) {
		t.Errorf("ParseTarget = %+v, %v", tg, err)
	}
	for _, bad := range []string{`{`, `{"account":"2222","region":"eu-west-1"}`, `{"account":"222233334444"}`} {
		if _, err := monitor.ParseTarget(bad); err == nil {
			t.Errorf("ParseTarget(%s): no error", bad)
		}
	}
}

// TestEnqueue: 25 work items reach a queue (moto's SQS, over the wire), ten
// a call.
func TestEnqueue(t *testing.T) {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(devstack.Current().DynamoDBEndpoint) })
	name := "sweep-" + strings.ReplaceAll(t.Name(), "/", "-")
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl})
	var ts []monitor.Target
	for i := range 25 {
		ts = append(ts, monitor.Target{Account: "222233334444", Region: []string{"us-east-1", "eu-west-1", "ap-south-1", "sa-east-1", "ca-central-1"}[i%5]})
	}
	if err := monitor.Enqueue(ctx, q, aws.ToString(out.QueueUrl), ts); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for seen < 25 {
		r, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: out.QueueUrl, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			break
		}
		for _, msg := range r.Messages {
			if _, err := monitor.ParseTarget(aws.ToString(msg.Body)); err != nil {
				t.Errorf("message %q: %v", aws.ToString(msg.Body), err)
			}
			seen++
		}
	}
	if seen != 25 {
		t.Errorf("%d work items received, want 25", seen)
	}
}
