package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/fsxkms/fsxkms/pkg/alert"
	"github.com/fsxkms/fsxkms/pkg/kmsevent"
)

const alertRenderHelp = `usage: fsxkms alert render [--format email|chat|json] [FILE|-]

Reads machine-form alerts ({"schema": "fsxkms.alert.v1", ...}) from FILE, or
from standard input when FILE is "-" or absent, and prints each exactly as
that kind of SNS subscriber receives it: the email (its Subject line, a
blank line, the body), the AWS Chatbot custom notification that HTTPS
subscribers get (JSON), or the machine form of SQS and Lambda subscribers
(one JSON object per line). Alerts too large for SNS are shortened as the
functions shorten them, with a note on standard error.

The input may be one alert (compact or indented), one per line (fsxkms sweep
--json, the functions' standard output without ALERT_TOPIC_ARN, a log line
with a prefix before the JSON), or an alert as something delivered it: an
SNS notification (an SQS subscriber without raw delivery), an SNS event (a
Lambda subscriber's Records[].Sns.Message), the output of aws sqs
receive-message (Messages[].Body), a MessageStructure=json document or a
JSON log line with the alert in "message".

Flags:
  --format F   email (the default), chat or json

Exit status: 0 when every alert was rendered, 2 on bad input or usage
(alerts that could be read are still printed).
`

// maxAlertInput bounds what alert render reads: a sweep of thousands of keys
// with --json, each alert at most alert.MaxMessageBytes.
const maxAlertInput = 64 << 20

// maxUnwrap bounds how deep alerts are looked for inside envelopes (an SQS
// message holding an SNS notification holding the alert is 3 deep).
const maxUnwrap = 6

func runAlertRender(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("fsxkms alert render")
	format := fs.String("format", "email", "email, chat or json")
	files, code, ok := parse(fs, alertRenderHelp, args, stdout, stderr)
	if !ok {
		return code
	}
	switch *format {
	case "email", "chat", "json":
	default:
		return usageError(stderr, fs.Name(), fmt.Sprintf("--format %q: want email, chat or json", *format))
	}
	name, raw, ok := readOperand(fs.Name(), files, stdin, stderr, func(in io.Reader) ([]byte, error) {
		return io.ReadAll(io.LimitReader(in, maxAlertInput+1))
	})
	if !ok {
		return 2
	}
	if len(raw) > maxAlertInput {
		fmt.Fprintf(stderr, "%s: %s is more than %d MiB\n", fs.Name(), name, maxAlertInput>>20)
		return 2
	}
	alerts, errs := readAlerts(raw)
	rendered := 0
	for _, a := range alerts {
		out, shortened, err := renderAlert(a, *format)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if *format == "email" && rendered > 0 {
			fmt.Fprintf(stdout, "\n%s\n\n", strings.Repeat("=", 78))
		}
		fmt.Fprint(stdout, out)
		rendered++
		if shortened {
			fmt.Fprintf(stderr, "%s: the alert on %s is over the SNS message limit: shown shortened, as subscribers receive it\n", fs.Name(), kmsevent.Clip(a.Key.ARN))
		}
	}
	for i, err := range errs {
		if i == kmsevent.MaxErrors {
			fmt.Fprintf(stderr, "%s: %s: and %d more errors\n", fs.Name(), name, len(errs)-i)
			break
		}
		fmt.Fprintf(stderr, "%s: %s: %v\n", fs.Name(), name, err)
	}
	if len(errs) > 0 {
		return 2
	}
	if rendered == 0 {
		fmt.Fprintf(stderr, "%s: %s holds no alert\n", fs.Name(), name)
		return 2
	}
	return 0
}

// renderAlert renders a as the subscribers of format receive it: the parts
// of its SNS message (alert.Alert.Message), which is what the functions
// publish.
func renderAlert(a alert.Alert, format string) (out string, shortened bool, err error) {
	m, err := a.Message()
	if err != nil {
		return "", false, err
	}
	var doc map[string]string
	if err := json.Unmarshal([]byte(m.Body), &doc); err != nil {
		return "", false, fmt.Errorf("alert on %s: its SNS message is not a MessageStructure=json document: %w", kmsevent.Clip(a.Key.ARN), err)
	}
	switch format {
	case "email":
		body := doc["email"]
		if !strings.HasSuffix(body, "\n") {
			body += "\n"
		}
		return "Subject: " + m.Subject + "\n\n" + body, m.Shortened, nil
	case "chat":
		return doc["https"] + "\n", m.Shortened, nil
	}
	return doc["sqs"] + "\n", m.Shortened, nil
}

// readAlerts finds the alerts in raw: a stream of JSON values (one alert,
// indented or not, or one per line), or else lines that each hold one
// after a prefix (a log line's time and level). Each value may be an
// envelope (see unwrapAlert).
func readAlerts(raw []byte) ([]alert.Alert, []error) {
	var alerts []alert.Alert
	var errs []error
	values, err := jsonValues(raw)
	if err != nil {
		values = nil
		for i, line := range bytes.Split(raw, []byte("\n")) {
			line = bytes.TrimSpace(line)
			if len(line) == 0 {
				continue
			}
			if j := bytes.IndexByte(line, '{'); j > 0 {
				line = line[j:]
			}
			if !json.Valid(line) {
				errs = append(errs, fmt.Errorf("line %d: not JSON, nor a log line ending in a JSON object: %s", i+1, kmsevent.ClipBytes(line)))
				continue
			}
			values = append(values, line)
		}
	}
	for i, v := range values {
		found, err := unwrapAlert(v, 0)
		if err != nil {
			if len(values) > 1 {
				err = fmt.Errorf("value %d: %w", i+1, err)
			}
			errs = append(errs, err)
		}
		alerts = append(alerts, found...)
	}
	return alerts, errs
}

// jsonValues splits raw into its JSON values.
func jsonValues(raw []byte) ([]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var values []json.RawMessage
	for {
		var v json.RawMessage
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return values, nil
		}
		if err != nil {
			return nil, err
		}
		values = append(values, v)
	}
}

// unwrapAlert returns the alerts in v: v itself when it has "schema", or
// those inside the envelopes that deliver alerts: a JSON string holding
// JSON; an SNS notification ("Type": "Notification", "Message"); an SNS or
// SQS event to a Lambda function (Records[].Sns.Message, Records[].body);
// the output of aws sqs receive-message (Messages[].Body) or one of its
// messages ("Body"); a MessageStructure=json document ("sqs", "default");
// a JSON log line ("message").
func unwrapAlert(v json.RawMessage, depth int) ([]alert.Alert, error) {
	if depth > maxUnwrap {
		return nil, errors.New("alert nested too deep in envelopes")
	}
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, err
		}
		t := bytes.TrimSpace([]byte(s))
		if len(t) == 0 || (t[0] != '{' && t[0] != '"') || !json.Valid(t) {
			return nil, fmt.Errorf("not an alert: the string %s is not a JSON object", kmsevent.Clip(s))
		}
		return unwrapAlert(t, depth+1)
	}
	if len(v) == 0 || v[0] != '{' {
		return nil, fmt.Errorf("not an alert: a JSON %s, want an object", jsonKind(v))
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(v, &fields); err != nil {
		return nil, err
	}
	if schema, ok := fields["schema"]; ok {
		var s string
		if json.Unmarshal(schema, &s) != nil || s != alert.Schema {
			return nil, fmt.Errorf("schema %s, want %q", kmsevent.ClipBytes(schema), alert.Schema)
		}
		var a alert.Alert
		if err := json.Unmarshal(v, &a); err != nil {
			return nil, fmt.Errorf("alert: %w", err)
		}
		return []alert.Alert{a}, nil
	}
	// Envelopes with one inner value.
	for _, k := range []string{"Message", "sqs", "lambda", "default", "Body", "body", "message"} {
		if inner, ok := fields[k]; ok {
			return unwrapAlert(inner, depth+1)
		}
	}
	// Envelopes with a list: Records (SNS or SQS events) and Messages (aws
	// sqs receive-message).
	for _, k := range []string{"Records", "Messages"} {
		list, ok := fields[k]
		if !ok {
			continue
		}
		var items []json.RawMessage
		if err := json.Unmarshal(list, &items); err != nil {
			return nil, fmt.Errorf("%s: want an array: %w", k, err)
		}
		var alerts []alert.Alert
		var errs []error
		for i, item := range items {
			var rec map[string]json.RawMessage
			if json.Unmarshal(item, &rec) == nil {
				if sns, ok := rec["Sns"]; ok { // an SNS event: the notification is under Sns
					item = sns
				}
			}
			found, err := unwrapAlert(item, depth+1)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s[%d]: %w", k, i, err))
			}
			alerts = append(alerts, found...)
		}
		return alerts, errors.Join(errs...)
	}
	return nil, fmt.Errorf(`not an fsxkms alert: no "schema": %q (want a machine-form alert, as fsxkms sweep --json or an SQS or Lambda subscriber gives it)`, alert.Schema)
}

func jsonKind(v []byte) string {
	switch {
	case len(v) == 0:
		return "nothing"
	case v[0] == '[':
		return "array"
	case v[0] == 't' || v[0] == 'f':
		return "boolean"
	case v[0] == 'n':
		return "null"
	}
	return "number"
}
