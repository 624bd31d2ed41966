package devstack

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Subscription subscribes an SQS queue of the stack to an SNS topic of the
// stack at start (Options.Subscriptions). The topic and the queue are
// created if Options.Topics and Options.Queues do not name them.
type Subscription struct {
	// Topic and Queue are names, not ARNs or URLs.
	Topic, Queue string
	// Raw turns on raw message delivery: the SQS body is the published
	// message verbatim and the SNS message attributes become SQS message
	// attributes. Without it the body is the SNS envelope JSON.
	Raw bool
	// FilterPolicy is an SNS filter policy in JSON, such as
	// {"severity": ["CRITICAL", "HIGH"]}; empty delivers every message.
	// goaws matches a message attribute against a list of exact strings
	// only, so Start refuses any other policy.
	FilterPolicy string
}

// topicName and queueName match the names of SNS topics and SQS queues:
// letters, digits, hyphens and underscores, FIFO ones ending in .fifo.
// They also need no quoting in goaws's YAML config.
var (
	topicName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}(\.fifo)?$`)
	queueName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}(\.fifo)?$`)
)

// goawsResources renders the Queues and Topics sections of goaws's config
// (indented under its environment) from opts, or says which option is
// wrong. goaws would log a bad filter policy and silently skip the rest of
// its config, so every value is checked here.
func goawsResources(opts Options) (string, error) {
	var queues, topics []string
	subs := map[string][]Subscription{}
	addQueue := func(q string) {
		if !slices.Contains(queues, q) {
			queues = append(queues, q)
		}
	}
	addTopic := func(t string) {
		if !slices.Contains(topics, t) {
			topics = append(topics, t)
		}
	}
	for _, t := range opts.Topics {
		if !topicName.MatchString(t) {
			return "", fmt.Errorf("devstack: topic %q: want a topic name of 1-256 letters, digits, - or _ (not an ARN)", t)
		}
		addTopic(t)
	}
	for _, q := range opts.Queues {
		if !queueName.MatchString(q) {
			return "", fmt.Errorf("devstack: queue %q: want a queue name of 1-80 letters, digits, - or _ (not a URL or an ARN)", q)
		}
		addQueue(q)
	}
	for i, sub := range opts.Subscriptions {
		if !topicName.MatchString(sub.Topic) || !queueName.MatchString(sub.Queue) {
			return "", fmt.Errorf("devstack: subscription %d (topic %q, queue %q): want a topic name and a queue name (letters, digits, - or _), not ARNs or URLs", i, sub.Topic, sub.Queue)
		}
		if sub.FilterPolicy != "" {
			var fp map[string][]string
			if err := json.Unmarshal([]byte(sub.FilterPolicy), &fp); err != nil || len(fp) == 0 {
				return "", fmt.Errorf("devstack: subscription %d (topic %q, queue %q): filter policy %s: want a JSON object of attribute names to lists of exact strings, the only kind goaws applies (%v)", i, sub.Topic, sub.Queue, sub.FilterPolicy, err)
			}
		}
		addTopic(sub.Topic)
		addQueue(sub.Queue)
		subs[sub.Topic] = append(subs[sub.Topic], sub)
	}

	var b strings.Builder
	if len(queues) > 0 {
		b.WriteString("  Queues:\n")
		for _, q := range queues {
			fmt.Fprintf(&b, "    - Name: %s\n", q)
		}
	}
	if len(topics) > 0 {
		b.WriteString("  Topics:\n")
		for _, t := range topics {
			fmt.Fprintf(&b, "    - Name: %s\n", t)
			if len(subs[t]) == 0 {
				continue
			}
			b.WriteString("      Subscriptions:\n")
			for _, sub := range subs[t] {
				fmt.Fprintf(&b, "        - QueueName: %s\n          Raw: %t\n", sub.Queue, sub.Raw)
				if sub.FilterPolicy != "" {
					// A JSON string is a YAML double-quoted string.
					fp, _ := json.Marshal(sub.FilterPolicy)
					fmt.Fprintf(&b, "          FilterPolicy: %s\n", fp)
				}
			}
		}
	}
	return b.String(), nil
}

// QueueURL returns the URL of the stack's SQS queue name, the one the
// query protocol wants as QueueUrl.
func (s *Stack) QueueURL(name string) string {
	return s.SNSEndpoint + "/" + s.Account + "/" + name
}

// QueueMessage is a message read from an SQS queue of the stack.
type QueueMessage struct {
	// ID is the SQS message ID.
	ID string
	// Body is the message body: with raw delivery, the published message
	// verbatim; otherwise the SNS envelope JSON.
	Body string
	// Attributes are the SQS message attributes by name.
	Attributes map[string]MessageAttribute
}

// MessageAttribute is an SQS message attribute.
type MessageAttribute struct {
	// DataType is String, Number or Binary, optionally with a custom
	// suffix (String.severity).
	DataType string
	// StringValue is the value of a String or Number attribute.
	StringValue string
	// BinaryValue is the value of a Binary attribute.
	BinaryValue []byte
}

// ReceiveMessages takes up to n (1 to 10) of the messages waiting now in
// the stack's SQS queue named queue, oldest first, and deletes them from
// the queue. It does not wait: with no message waiting it returns none.
// (goaws delivers to SQS subscriptions before SNS Publish returns.)
//
// It speaks the SQS query protocol (form POSTs answered in XML) because
// goaws lacks the JSON protocol of the AWS SDK for Go v2 SQS client.
func (s *Stack) ReceiveMessages(ctx context.Context, queue string, n int) ([]QueueMessage, error) {
	if n < 1 || n > 10 {
		return nil, fmt.Errorf("devstack: receive from queue %s: %d messages asked, want 1 to 10", queue, n)
	}
	var resp struct {
		Messages []struct {
			MessageId     string
			ReceiptHandle string
			MD5OfBody     string
			Body          string
			Attributes    []struct {
				Name  string
				Value struct{ DataType, StringValue, BinaryValue string }
			} `xml:"MessageAttribute"`
		} `xml:"ReceiveMessageResult>Message"`
	}
	err := s.sqsCall(ctx, url.Values{
		"Action":                 {"ReceiveMessage"},
		"QueueUrl":               {s.QueueURL(queue)},
		"MaxNumberOfMessages":    {strconv.Itoa(n)},
		"MessageAttributeName.1": {"All"},
		"WaitTimeSeconds":        {"0"},
	}, &resp)
	if err != nil {
		return nil, fmt.Errorf("devstack: receive from queue %s: %w", queue, err)
	}
	msgs := make([]QueueMessage, 0, len(resp.Messages))
	for _, m := range resp.Messages {
		if sum := md5.Sum([]byte(m.Body)); hex.EncodeToString(sum[:]) != m.MD5OfBody {
			return nil, fmt.Errorf("devstack: receive from queue %s: message %s: body does not match its MD5OfBody %s", queue, m.MessageId, m.MD5OfBody)
		}
		msg := QueueMessage{ID: m.MessageId, Body: m.Body, Attributes: map[string]MessageAttribute{}}
		for _, a := range m.Attributes {
			attr := MessageAttribute{DataType: a.Value.DataType, StringValue: a.Value.StringValue}
			if a.Value.BinaryValue != "" {
				if attr.BinaryValue, err = base64.StdEncoding.DecodeString(a.Value.BinaryValue); err != nil {
					return nil, fmt.Errorf("devstack: receive from queue %s: message %s: attribute %s: %w", queue, m.MessageId, a.Name, err)
				}
			}
			msg.Attributes[a.Name] = attr
		}
		err := s.sqsCall(ctx, url.Values{
			"Action":        {"DeleteMessage"},
			"QueueUrl":      {s.QueueURL(queue)},
			"ReceiptHandle": {m.ReceiptHandle},
		}, nil)
		if err != nil {
			return nil, fmt.Errorf("devstack: delete message %s from queue %s: %w", m.MessageId, queue, err)
		}
		msgs = append(msgs, msg)
	}
	return msgs, nil
}

// sqsCall posts an SQS query-protocol request to goaws and decodes its XML
// answer into out (nil: discard it). An error answer becomes an error with
// goaws's code and message.
func (s *Stack) sqsCall(ctx context.Context, form url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.SNSEndpoint+"/", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s: reading the answer: %w", form.Get("Action"), err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Code    string `xml:"Error>Code"`
			Message string `xml:"Error>Message"`
		}
		if xml.Unmarshal(body, &e) == nil && e.Code != "" {
			return fmt.Errorf("%s: %s: %s: %s", form.Get("Action"), resp.Status, e.Code, e.Message)
		}
		return fmt.Errorf("%s: %s: %.200q", form.Get("Action"), resp.Status, body)
	}
	if out == nil {
		return nil
	}
	if err := xml.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s: answer is not the expected XML (%w): %.200q", form.Get("Action"), err, body)
	}
	return nil
}
