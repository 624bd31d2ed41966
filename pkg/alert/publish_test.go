package alert

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// fakeSNS records PublishInputs; it stands in only where no emulator is
// needed (goaws covers the wire in integration_test.go).
type fakeSNS struct {
	mu  sync.Mutex
	in  []*sns.PublishInput
	err error
}

func (f *fakeSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.in = append(f.in, in)
	if f.err != nil {
		return nil, f.err
	}
	return &sns.PublishOutput{MessageId: aws.String(fmt.Sprint("msg-", len(f.in)))}, nil
}

const topic = "arn:aws:sns:us-east-1:111122223333:fsxkms-alerts"

func TestSNSPublishInput(t *testing.T) {
	fake := &fakeSNS{}
	a := loadInput(t, "testdata/attempt-denied.input.json")
	if err := NewSNS(fake, topic).Publish(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if len(fake.in) != 1 {
		t.Fatalf("%d Publish calls, want 1", len(fake.in))
	}
	in := fake.in[0]
	if aws.ToString(in.TopicArn) != topic || aws.ToString(in.MessageStructure) != "json" {
		t.Errorf("TopicArn %q MessageStructure %q", aws.ToString(in.TopicArn), aws.ToString(in.MessageStructure))
	}
	wantSubject, wantEmail := a.Email()
	if aws.ToString(in.Subject) != wantSubject {
		t.Errorf("Subject %q, want %q", aws.ToString(in.Subject), wantSubject)
	}
	machine, email, chat := parts(t, Message{Subject: aws.ToString(in.Subject), Body: aws.ToString(in.Message)})
	if email != wantEmail {
		t.Error("email part differs")
	}
	if machine.Trigger.Failed != true || machine.Trigger.ErrorCode != "AccessDenied" || machine.Status != Compliant {
		t.Errorf("machine form: %+v", machine.Trigger)
	}
	if chat.Source != "custom" {
		t.Errorf("chat source %q", chat.Source)
	}
	got := map[string]string{}
	for k, v := range in.MessageAttributes {
		if aws.ToString(v.DataType) != "String" {
			t.Errorf("attribute %s has DataType %q", k, aws.ToString(v.DataType))
		}
		got[k] = aws.ToString(v.StringValue)
	}
	want := map[string]string{"severity": "WARNING", "status": "COMPLIANT", "code": "ATTEMPTED_CHANGE_DENIED",
		"key_id": "1234abcd-12ab-34cd-56ef-1234567890ab", "account": "111122223333", "region": "us-east-1",
		"event_name": "ScheduleKeyDeletion"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("attributes %v, want %v", got, want)
	}
}

func TestSNSPublishError(t *testing.T) {
	boom := errors.New("throttled after retries")
	err := NewSNS(&fakeSNS{err: boom}, topic).Publish(context.Background(), loadInput(t, "testdata/restored.input.json"))
	if !errors.Is(err, boom) {
		t.Fatalf("error %v does not wrap the SDK error", err)
	}
	if !strings.Contains(err.Error(), topic) || !strings.Contains(err.Error(), "[INFO] KMS key alias/fsx-prod") {
		t.Errorf("error lacks topic or subject: %v", err)
	}
	err = NewSNS(&fakeSNS{}, topic).Publish(context.Background(), Alert{Severity: "LOUD"})
	if err == nil || !strings.Contains(err.Error(), `severity "LOUD"`) {
		t.Errorf("invalid alert: %v", err)
	}
	if err := NewSNS(nil, topic).Publish(context.Background(), Alert{}); err == nil {
		t.Error("nil client: no error")
	}
}

func TestWriterConcurrent(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	a := loadInput(t, "testdata/policy-denied.input.json")
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			b := a
			b.Trigger.EventID = fmt.Sprint("ev-", i)
			if err := w.Publish(context.Background(), b); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var got Alert
		if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
			t.Fatalf("line is not one JSON object: %v", err)
		}
		seen[got.Trigger.EventID] = true
	}
	if len(seen) != 50 {
		t.Errorf("%d distinct alerts, want 50", len(seen))
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriterError(t *testing.T) {
	err := NewWriter(failWriter{}).Publish(context.Background(), Alert{})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("error %v", err)
	}
}

type recorder struct{ got []string }

func (r *recorder) Publish(_ context.Context, a Alert) error {
	r.got = append(r.got, string(a.Severity))
	return nil
}

func TestFilter(t *testing.T) {
	for _, c := range []struct {
		min  Severity
		want string
	}{
		{Info, "[INFO WARNING CRITICAL HIGH]"},
		{Warning, "[WARNING CRITICAL HIGH]"},
		{Critical, "[CRITICAL HIGH]"},
	} {
		r := &recorder{}
		p := Filter(r, c.min)
		for _, s := range []Severity{Info, Warning, Critical, "HIGH"} {
			_ = p.Publish(context.Background(), Alert{Severity: s})
		}
		if fmt.Sprint(r.got) != c.want {
			t.Errorf("min %s passed %v, want %s", c.min, r.got, c.want)
		}
	}
	// An empty severity is derived from the findings before filtering.
	r := &recorder{}
	_ = Filter(r, Critical).Publish(context.Background(), Alert{Findings: []Finding{{Code: "KEY_DISABLED", Severity: Critical}}})
	if len(r.got) != 1 {
		t.Error("derived CRITICAL alert dropped")
	}
}

// TestWithLogger: the publishers log to the logger they are given, not to
// slog.Default: a publish, a shortened message and a dropped alert.
func TestWithLogger(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	a := loadInput(t, "testdata/policy-denied.input.json")
	a.Findings[0].Statements = slices.Repeat([]string{strings.Repeat("s", MaxStatement)}, 40) // over the SNS limit
	if err := NewSNS(&fakeSNS{}, topic, WithLogger(log)).Publish(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if err := Filter(&recorder{}, Critical, WithLogger(log)).Publish(context.Background(), Alert{Severity: Info}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`level=WARN msg="alert shortened to fit the SNS message limit"`,
		`level=INFO msg="alert published" topic=` + topic,
		`level=INFO msg="alert below MIN_SEVERITY not published" severity=INFO min=CRITICAL`,
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, &buf)
		}
	}
}
