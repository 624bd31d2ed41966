package alert

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// snsEnvelope is what SNS POSTs to an http(s) subscriber.
type snsEnvelope struct {
	Type              string
	TopicArn          string
	Subject           string
	Message           string
	MessageAttributes map[string]struct{ Type, Value string }
}

// TestGoaws publishes through a real SNS API (goaws, in the local stack
// TestMain starts) to a raw SQS subscription, a raw SQS subscription
// filtered on severity, and an HTTP subscription, and checks what each
// receives.
func TestGoaws(t *testing.T) {
	ctx := context.Background()
	goawsTopic := topicARN(alertsTopicName)
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	client := sns.NewFromConfig(cfg)

	// The HTTP subscriber (Chatbot's protocol is https; goaws treats both alike).
	posts := make(chan snsEnvelope, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var e snsEnvelope
		if err := json.Unmarshal(b, &e); err != nil {
			t.Errorf("HTTP subscriber got non-JSON %q: %v", b, err)
		}
		if e.Type == "Notification" {
			posts <- e
		}
	}))
	defer srv.Close()
	sub, err := client.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(goawsTopic),
		Protocol: aws.String("http"), Endpoint: aws.String(srv.URL + "/sns")})
	if err != nil {
		t.Fatalf("subscribe HTTP: %v", err)
	}
	defer client.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: sub.SubscriptionArn})

	// As monitor.NewAWS builds it with ALERT_TOPIC_ARN and MIN_SEVERITY=WARNING.
	pub := Filter(NewSNS(client, goawsTopic), Warning)
	emptyQueues(t)
	critical := loadInput(t, "testdata/key-disabled.input.json")
	warning := loadInput(t, "testdata/attempt-denied.input.json")
	info := loadInput(t, "testdata/restored.input.json") // below MIN_SEVERITY
	for _, a := range []Alert{critical, warning, info} {
		if err := pub.Publish(ctx, a); err != nil {
			t.Fatalf("publish %s: %v", a.Code(), err)
		}
	}

	// Raw SQS: the body is the machine form verbatim, attributes intact.
	raw := take(t, rawQueue)
	if len(raw) != 2 {
		t.Fatalf("alerts-raw got %d messages, want 2 (INFO filtered by MIN_SEVERITY)", len(raw))
	}
	for i, want := range []Alert{critical, warning} {
		machine, _ := want.Machine()
		if raw[i].Body != string(machine) {
			t.Errorf("alerts-raw[%d] body:\n%s\nwant the machine form:\n%s", i, raw[i].Body, machine)
		}
		m, _ := want.Message()
		wantAttrs := map[string]string{}
		for k, v := range m.Attributes {
			wantAttrs[k] = "String:" + v
		}
		if got := attrs(raw[i]); !maps.Equal(got, wantAttrs) {
			t.Errorf("alerts-raw[%d] attributes %v, want %v", i, got, wantAttrs)
		}
	}

	// The filter policy {"severity": ["CRITICAL"]} lets only CRITICAL through.
	crit := take(t, criticalQueue)
	if len(crit) != 1 || !strings.Contains(crit[0].Body, `"severity":"CRITICAL"`) {
		t.Errorf("alerts-critical got %d messages, want the CRITICAL one", len(crit))
	}

	// HTTP: the SNS envelope with subject and attributes. goaws puts the whole
	// MessageStructure=json document in Message (real SNS sends only the
	// "http"/"https" entry: the Chatbot JSON), so the chat is read from it.
	// goaws posted them before Publish returned: they are in posts now.
	for i, want := range []Alert{critical, warning} {
		var e snsEnvelope
		select {
		case e = <-posts:
		default:
			t.Fatalf("HTTP subscriber: notification %d did not come", i)
		}
		m, _ := want.Message()
		if e.TopicArn != goawsTopic || e.Subject != m.Subject {
			t.Errorf("HTTP[%d] topic %q subject %q, want %q", i, e.TopicArn, e.Subject, m.Subject)
		}
		for k, v := range m.Attributes {
			if a := e.MessageAttributes[k]; a.Type != "String" || a.Value != v {
				t.Errorf("HTTP[%d] attribute %s = %+v, want String %q", i, k, a, v)
			}
		}
		if e.Message != m.Body {
			t.Fatalf("HTTP[%d] message is not the published document (goaws behaviour changed?):\n%.300s", i, e.Message)
		}
		var doc map[string]string
		if err := json.Unmarshal([]byte(e.Message), &doc); err != nil {
			t.Fatal(err)
		}
		chat, _ := want.Chat()
		if doc["https"] != string(chat) {
			t.Errorf("HTTP[%d] https entry is not the Chatbot JSON", i)
		}
	}
	select {
	case e := <-posts:
		t.Errorf("unexpected extra HTTP notification: %q", e.Subject)
	default:
	}
}

// TestGoawsLimits sends a shortened alert and an alert to a missing topic.
func TestGoawsLimits(t *testing.T) {
	ctx := context.Background()
	goawsTopic := topicARN(alertsTopicName)
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	client := sns.NewFromConfig(cfg)

	a := loadInput(t, "testdata/policy-denied.input.json")
	// Each statement is bounded to MaxStatement; 60 of them still exceed
	// the SNS limit.
	a.Findings[0].Statements = slices.Repeat([]string{strings.Repeat(`{"Sid":"S","Effect":"Allow"},`, 12000)}, 60)
	a.Title = strings.Repeat("Ünïcødé title ", 40)
	emptyQueues(t)
	if err := NewSNS(client, goawsTopic).Publish(ctx, a); err != nil {
		t.Fatal(err)
	}
	got := take(t, rawQueue)
	if len(got) != 1 {
		t.Fatalf("alerts-raw got %d messages, want 1", len(got))
	}
	if crit := take(t, criticalQueue); len(crit) != 1 {
		t.Errorf("alerts-critical got %d messages, want the CRITICAL one", len(crit))
	}
	var machine Alert
	if err := json.Unmarshal([]byte(got[0].Body), &machine); err != nil {
		t.Fatalf("delivered body is not JSON: %v", err)
	}
	if s := machine.Findings[0].Statements[0]; !strings.Contains(s, "...[truncated by fsxkms: ") {
		t.Errorf("statement not marked truncated: %.100q", s)
	}

	err = NewSNS(client, topicARN("no-such-topic")).Publish(ctx, a)
	if err == nil || !strings.Contains(err.Error(), "no-such-topic") {
		t.Fatalf("publish to a missing topic: %v", err)
	}
	var apiErr interface{ ErrorCode() string }
	if !errors.As(err, &apiErr) {
		t.Errorf("error %v does not wrap the SDK API error", err)
	}
}
