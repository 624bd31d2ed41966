package alert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
)

// Publisher delivers alerts.
type Publisher interface {
	Publish(ctx context.Context, a Alert) error
}

// SNSAPI is the part of the SNS client that SNS needs; *sns.Client has it.
type SNSAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// SNS publishes each alert as one MessageStructure=json message to a topic.
type SNS struct {
	client SNSAPI
	topic  string
}

// NewSNS returns a Publisher for the topic. The client's retryer does the
// retries; a final failure is returned.
func NewSNS(client SNSAPI, topicARN string) *SNS {
	return &SNS{client: client, topic: topicARN}
}

// Input returns the PublishInput for a (see Alert.Message).
func (s *SNS) Input(a Alert) (*sns.PublishInput, error) {
	m, err := a.Message()
	if err != nil {
		return nil, err
	}
	in := &sns.PublishInput{
		TopicArn:          aws.String(s.topic),
		Message:           aws.String(m.Body),
		MessageStructure:  aws.String("json"),
		Subject:           aws.String(m.Subject),
		MessageAttributes: map[string]types.MessageAttributeValue{},
	}
	for _, k := range sortedKeys(m.Attributes) {
		in.MessageAttributes[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(m.Attributes[k])}
	}
	if m.Shortened {
		slog.Warn("alert shortened to fit the SNS message limit",
			"key", a.Key.ARN, "code", a.Code(), "resources", len(a.Resources), "findings", len(a.Findings))
	}
	return in, nil
}

// Publish sends a to the topic.
func (s *SNS) Publish(ctx context.Context, a Alert) error {
	if s.client == nil {
		return errors.New("alert: publish to SNS: no SNS client")
	}
	in, err := s.Input(a)
	if err != nil {
		return fmt.Errorf("alert: publish to %s: %w", s.topic, err)
	}
	out, err := s.client.Publish(ctx, in)
	if err != nil {
		return fmt.Errorf("alert: publish %q to %s: %w", aws.ToString(in.Subject), s.topic, err)
	}
	slog.InfoContext(ctx, "alert published", "topic", s.topic, "messageId", aws.ToString(out.MessageId),
		"severity", aws.ToString(in.MessageAttributes["severity"].StringValue), "key", a.Key.ARN, "code", a.Code())
	return nil
}

// Writer writes each alert as one machine-form JSON object per line. It is
// safe for concurrent use.
type Writer struct {
	mu sync.Mutex
	w  io.Writer
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Publish writes a's machine form and a newline in one Write.
func (w *Writer) Publish(_ context.Context, a Alert) error {
	b, err := a.Machine()
	if err != nil {
		return fmt.Errorf("alert: write: %w", err)
	}
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.w.Write(b); err != nil {
		return fmt.Errorf("alert: write %s alert for %s: %w", a.filled().Severity, a.Key.ARN, err)
	}
	return nil
}

type filter struct {
	next Publisher
	min  Severity
}

// Filter returns a Publisher that passes to p only alerts at least as
// severe as min, and logs the ones it drops. An alert with an invalid
// severity is passed on, so p reports it.
func Filter(p Publisher, min Severity) Publisher { return filter{next: p, min: min} }

func (f filter) Publish(ctx context.Context, a Alert) error {
	sev := a.filled().Severity
	if sev.rank() > 0 && !sev.AtLeast(f.min) {
		slog.InfoContext(ctx, "alert below MIN_SEVERITY not published",
			"severity", sev, "min", f.min, "key", a.Key.ARN, "code", a.Code())
		return nil
	}
	return f.next.Publish(ctx, a)
}

// FromEnv builds the Publisher the functions use: SNS to ALERT_TOPIC_ARN if
// set, else one JSON line per alert on stdout; MIN_SEVERITY (default INFO)
// drops less severe alerts.
func FromEnv(client SNSAPI, getenv func(string) string, stdout io.Writer) (Publisher, error) {
	min := Info
	if v := strings.TrimSpace(getenv("MIN_SEVERITY")); v != "" {
		s, err := ParseSeverity(v)
		if err != nil {
			return nil, fmt.Errorf("alert: MIN_SEVERITY: %w", err)
		}
		min = s
	}
	var p Publisher
	if topic := strings.TrimSpace(getenv("ALERT_TOPIC_ARN")); topic != "" {
		if err := CheckTopicARN(topic); err != nil {
			return nil, fmt.Errorf("alert: ALERT_TOPIC_ARN: %w", err)
		}
		if client == nil {
			return nil, errors.New("alert: ALERT_TOPIC_ARN is set but no SNS client was given")
		}
		p = NewSNS(client, topic)
	} else {
		if stdout == nil {
			return nil, errors.New("alert: ALERT_TOPIC_ARN is unset and no stdout writer was given")
		}
		p = NewWriter(stdout)
	}
	if min == Info {
		return p, nil
	}
	return Filter(p, min), nil
}

// CheckTopicARN accepts an SNS topic ARN,
// arn:<partition>:sns:<region>:<account>:<name>, and rejects anything else
// with an error that quotes it.
func CheckTopicARN(s string) error {
	p := strings.Split(s, ":")
	if len(p) != 6 || p[0] != "arn" || p[1] == "" || p[2] != "sns" || p[3] == "" || p[4] == "" || p[5] == "" {
		return fmt.Errorf("%q is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)", s)
	}
	return nil
}
