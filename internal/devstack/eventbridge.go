package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// EventSink is an EventBridge bus on the stack's moto_server with one rule
// that sends the events matching a pattern to an SQS queue of its own, so
// that a test reads what reached the bus as a rule's target receives it.
// moto delivers to the queue before PutEvents returns.
type EventSink struct {
	// BusARN is the bus's ARN, what EVENT_BUS_ARN names.
	BusARN string
	// QueueURL is the queue the rule targets.
	QueueURL string

	bus, rule string
	events    *eventbridge.Client
	sqs       *sqs.Client
}

// Event is an event as a rule's target receives it: aws-lambda-go's
// EventBridgeEvent, the envelope a Lambda target decodes too.
type Event = events.EventBridgeEvent

// NewEventSink creates a bus and a queue named name (make it unique: moto
// keeps them for the stack's life) and a rule on the bus with pattern (an
// EventBridge event pattern) targeting the queue.
func (s *Stack) NewEventSink(ctx context.Context, name, pattern string) (*EventSink, error) {
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test", Source: "devstack"}, nil
	})
	hc := &http.Client{Timeout: 5 * time.Second}
	e := &EventSink{bus: name, rule: name + "-rule",
		// The SDK's retries, as for the stack's DynamoDB (moto serves
		// both): see Stack.dynamoDB.
		events: eventbridge.New(eventbridge.Options{Region: s.Region, BaseEndpoint: aws.String(s.EventBridgeEndpoint), Credentials: creds, HTTPClient: hc}),
		sqs:    sqs.New(sqs.Options{Region: s.Region, BaseEndpoint: aws.String(s.EventBridgeEndpoint), Credentials: creds, HTTPClient: hc}),
	}
	bus, err := e.events.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(name)})
	if _, ok := errors.AsType[*ebtypes.ResourceAlreadyExistsException](err); ok {
		// A retry of a CreateEventBus that made it (names are used once).
		var d *eventbridge.DescribeEventBusOutput
		if d, err = e.events.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String(name)}); err == nil {
			bus = &eventbridge.CreateEventBusOutput{EventBusArn: d.Arn}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("devstack: create event bus %s: %w", name, err)
	}
	e.BusARN = aws.ToString(bus.EventBusArn)
	q, err := e.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		return nil, fmt.Errorf("devstack: create queue %s: %w", name, err)
	}
	e.QueueURL = aws.ToString(q.QueueUrl)
	attrs, err := e.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return nil, fmt.Errorf("devstack: queue %s ARN: %w", name, err)
	}
	if _, err := e.events.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(e.rule), EventBusName: aws.String(name), EventPattern: aws.String(pattern)}); err != nil {
		return nil, fmt.Errorf("devstack: put rule on %s: %w", name, err)
	}
	_, err = e.events.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(e.rule), EventBusName: aws.String(name),
		Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(attrs.Attributes["QueueArn"])}}})
	if err != nil {
		return nil, fmt.Errorf("devstack: target %s's rule at its queue: %w", name, err)
	}
	return e, nil
}

// NewTestEventSink is NewEventSink for a test: the sink is named prefix and
// the time, so that it is the test's own, and is closed when the test and
// its subtests end. A failure to create or close it fails the test.
func (s *Stack) NewTestEventSink(t testing.TB, prefix, pattern string) *EventSink {
	t.Helper()
	ctx := context.Background()
	e, err := s.NewEventSink(ctx, fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()), pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return e
}

// Receive returns the events in the queue, deleting them, until the queue
// is empty.
func (e *EventSink) Receive(ctx context.Context) ([]Event, error) {
	var out []Event
	for {
		m, err := e.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.QueueURL), MaxNumberOfMessages: 10})
		if err != nil {
			return out, fmt.Errorf("devstack: receive from %s: %w", e.QueueURL, err)
		}
		if len(m.Messages) == 0 {
			return out, nil
		}
		for _, msg := range m.Messages {
			var ev Event
			if err := json.Unmarshal([]byte(aws.ToString(msg.Body)), &ev); err != nil {
				return out, fmt.Errorf("devstack: event in %s is not JSON: %w", e.QueueURL, err)
			}
			out = append(out, ev)
			if _, err := e.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(e.QueueURL), ReceiptHandle: msg.ReceiptHandle}); err != nil {
				return out, fmt.Errorf("devstack: delete from %s: %w", e.QueueURL, err)
			}
		}
	}
}

// Close deletes the rule, the bus and the queue.
func (e *EventSink) Close(ctx context.Context) error {
	_, err1 := e.events.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String(e.rule), EventBusName: aws.String(e.bus), Ids: []string{"queue"}})
	_, err2 := e.events.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String(e.rule), EventBusName: aws.String(e.bus)})
	_, err3 := e.events.DeleteEventBus(ctx, &eventbridge.DeleteEventBusInput{Name: aws.String(e.bus)})
	_, err4 := e.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(e.QueueURL)})
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return fmt.Errorf("devstack: close event sink %s: %w", e.bus, err)
	}
	return nil
}
