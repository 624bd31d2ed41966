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
	"github.com/aws/aws-sdk-go-v2/aws/arn"
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

// Option configures a publisher.
type Option func(*options)

type options struct {
	log *slog.Logger
}

// WithLogger sets the logger a publisher writes to (an alert published,
// shortened to fit SNS, or dropped by Filter); slog.Default() without it.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

func newOptions(opts []Option) options {
	o := options{log: slog.Default()}
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	return o
}

// SNS publishes each alert as one MessageStructure=json message to a topic.
type SNS struct {
	client SNSAPI
	topic  string
	log    *slog.Logger
}

// NewSNS returns a Publisher for the topic. The client's retryer does the
// retries; a final failure is returned.
func NewSNS(client SNSAPI, topicARN string, opts ...Option) *SNS {
	return &SNS{client: client, topic: topicARN, log: newOptions(opts).log}
}

// input returns the PublishInput for a (see Alert.Message), and whether
// the message had to be shortened to fit.
func (s *SNS) input(a Alert) (in *sns.PublishInput, shortened bool, err error) {
	m, err := a.Message()
	if err != nil {
		return nil, false, err
	}
	in = &sns.PublishInput{
		TopicArn:          aws.String(s.topic),
		Message:           aws.String(m.Body),
		MessageStructure:  aws.String("json"),
		Subject:           aws.String(m.Subject),
		MessageAttributes: map[string]types.MessageAttributeValue{},
	}
	for _, k := range sortedKeys(m.Attributes) {
		in.MessageAttributes[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(m.Attributes[k])}
	}
	return in, m.Shortened, nil
}

// Publish sends a to the topic.
func (s *SNS) Publish(ctx context.Context, a Alert) error {
	if s.client == nil {
		return errors.New("alert: publish to SNS: no SNS client")
	}
	in, shortened, err := s.input(a)
	if err != nil {
		return fmt.Errorf("alert: publish to %s: %w", s.topic, err)
	}
	if shortened {
		s.log.WarnContext(ctx, "alert shortened to fit the SNS message limit",
			"key", a.Key.ARN, "code", a.Code(), "resources", len(a.Resources), "findings", len(a.Findings))
	}
	out, err := s.client.Publish(ctx, in)
	if err != nil {
		return fmt.Errorf("alert: publish %q to %s: %w", aws.ToString(in.Subject), s.topic, err)
	}
	s.log.InfoContext(ctx, "alert published", "topic", s.topic, "messageId", aws.ToString(out.MessageId),
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
	log  *slog.Logger
}

// Filter returns a Publisher that passes to p only alerts at least as
// severe as min, and logs the ones it drops. An alert with an invalid
// severity is passed on, so p reports it.
func Filter(p Publisher, min Severity, opts ...Option) Publisher {
	return filter{next: p, min: min, log: newOptions(opts).log}
}

func (f filter) Publish(ctx context.Context, a Alert) error {
	sev := a.filled().Severity
	if sev.Rank() > 0 && !sev.AtLeast(f.min) {
		f.log.InfoContext(ctx, "alert below MIN_SEVERITY not published",
			"severity", sev, "min", f.min, "key", a.Key.ARN, "code", a.Code())
		return nil
	}
	return f.next.Publish(ctx, a)
}

// CheckTopicARN accepts an SNS topic ARN,
// arn:<partition>:sns:<region>:<account>:<name>, and rejects anything else
// with an error that quotes it.
func CheckTopicARN(s string) error {
	a, err := arn.Parse(s)
	if err != nil || a.Partition == "" || a.Service != "sns" || a.Region == "" || a.AccountID == "" ||
		a.Resource == "" || strings.Contains(a.Resource, ":") {
		return fmt.Errorf("%q is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)", s)
	}
	return nil
}
