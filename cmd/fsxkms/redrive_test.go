package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/fsxkms/fsxkms/internal/localrun"
)

// redriveEnv is the local stack with the demo world, the real kms-events
// bootstrap under the Lambda Runtime Interface Emulator (whose invoke path
// is the Lambda API's, for the function named "function"), and an SQS
// queue on moto_server, the stack's DynamoDB, which serves SQS too. The
// environment points the SDK's SQS and Lambda clients at them.
type redriveEnv struct {
	env      *localrun.Env
	sqs      *sqs.Client
	queueURL string
}

func startRedrive(t *testing.T) *redriveEnv {
	t.Helper()
	ctx := context.Background()
	env, err := localrun.Start(ctx, localrun.Options{})
	if err != nil {
		t.Fatalf("the local stack and kms-events did not start: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	for _, kv := range env.Stack.Env() { // localrun set them; t.Setenv restores them after the test
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	lambdaURL, _, _ := strings.Cut(env.Lambda.Endpoint, "/2015-03-31/")
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", lambdaURL)
	t.Setenv("AWS_ENDPOINT_URL_SQS", env.Stack.DynamoDBEndpoint)
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := &redriveEnv{env: env, sqs: sqs.NewFromConfig(cfg)}
	out, err := r.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("fsxkms-failures")})
	if err != nil {
		t.Fatalf("CreateQueue on moto_server: %v", err)
	}
	r.queueURL = aws.ToString(out.QueueUrl)
	return r
}

// send puts body in the queue with string attributes (name, value, ...)
// and returns the message id.
func (r *redriveEnv) send(t *testing.T, body string, attrs ...string) string {
	t.Helper()
	in := &sqs.SendMessageInput{QueueUrl: aws.String(r.queueURL), MessageBody: aws.String(body),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{}}
	for i := 0; i < len(attrs); i += 2 {
		in.MessageAttributes[attrs[i]] = sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(attrs[i+1])}
	}
	out, err := r.sqs.SendMessage(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.MessageId)
}

// visible receives what the queue shows now and returns the message ids;
// it makes each visible again at once, as it was.
func (r *redriveEnv) visible(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	seen := map[string]bool{}
	var handles []*string
	for range 20 {
		out, err := r.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(r.queueURL), MaxNumberOfMessages: 10, VisibilityTimeout: 60})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			seen[aws.ToString(m.MessageId)] = true
			handles = append(handles, m.ReceiptHandle)
		}
	}
	for _, h := range handles {
		if _, err := r.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(r.queueURL), ReceiptHandle: h, VisibilityTimeout: 0}); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for id := range seen {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (r *redriveEnv) purge(t *testing.T) {
	t.Helper()
	if _, err := r.sqs.PurgeQueue(context.Background(), &sqs.PurgeQueueInput{QueueUrl: aws.String(r.queueURL)}); err != nil {
		t.Fatal(err)
	}
}

// destinationRecord is a Lambda destination record of an asynchronous
// invocation of function that failed, with payload as its requestPayload.
func destinationRecord(t *testing.T, function string, payload []byte) string {
	t.Helper()
	return string(mustJSON(t, map[string]any{
		"version": "1.0", "timestamp": "2026-11-26T09:36:12.402Z",
		"requestContext": map[string]any{"requestId": "c1a2b3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
			"functionArn": "arn:aws:lambda:us-east-1:111122223333:function:" + function + ":$LATEST",
			"condition":   "RetriesExhausted", "approximateInvokeCount": 3},
		"requestPayload":  json.RawMessage(payload),
		"responseContext": map[string]any{"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
		"responsePayload": map[string]any{"errorType": "InvocationFailed", "errorMessage": "list FSx: ThrottlingException: Rate exceeded"},
	}))
}

func readEventFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lineOf returns the output line about message id.
func lineOf(out, id string) string {
	for l := range strings.SplitSeq(out, "\n") {
		if strings.Contains(l, "  "+id+"  ") || strings.Contains(l, " "+id+"  ") {
			return l
		}
	}
	return ""
}

// TestRedrive re-drives a failure queue holding what a real one holds: the
// kms-events function's failure records (Lambda destination records) and
// EventBridge dead letters (the event itself), for the function under the
// emulator; a sweep failure record; an event the function rejects; a body
// that is not JSON. The first two are invoked and deleted, the others kept
// and visible again at once; --dry-run invokes and deletes nothing.
func TestRedrive(t *testing.T) {
	r := startRedrive(t)
	disableKey := readEventFile(t, "DisableKey.json")
	enableKey := readEventFile(t, "EnableKey.json")
	scheduled := []byte(`{"version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event", "source": "aws.events", "account": "111122223333", "time": "2026-11-26T12:00:00Z", "region": "us-east-1", "resources": [], "detail": {}}`)

	record := r.send(t, destinationRecord(t, "function", disableKey))
	deadLetter := r.send(t, string(enableKey),
		"RULE_ARN", "arn:aws:events:us-east-1:111122223333:rule/fsxkms-kms-api-calls",
		"TARGET_ARN", "arn:aws:lambda:us-east-1:111122223333:function:function",
		"ERROR_CODE", "SDK_CLIENT_ERROR", "ERROR_MESSAGE", "Unable to invoke Lambda function")
	sweep := r.send(t, destinationRecord(t, "fsxkms-sweep", scheduled))
	rejected := r.send(t, destinationRecord(t, "function", []byte(`{"hello": "world"}`)))
	garbage := r.send(t, "not json")
	all := []string{record, deadLetter, sweep, rejected, garbage}
	slices.Sort(all)
	args := []string{"redrive", "--queue-url", r.queueURL, "--function", "function"}

	t.Run("dry run", func(t *testing.T) {
		before := strings.Count(r.env.Lambda.Log(), "START RequestId")
		code, stdout, stderr := runCLI(append(args, "--dry-run"))
		if code != 1 {
			t.Errorf("exit %d, want 1 (two messages are skipped); stderr:\n%s", code, stderr)
		}
		if want := "5 messages: 3 would be re-driven (dry run: nothing invoked or deleted), 0 failed, 2 skipped (2 kept in the queue)\n"; !strings.HasSuffix(stdout, want) {
			t.Errorf("stdout:\n%s\nwant it to end with %s", stdout, want)
		}
		if l := lineOf(stdout, record); !strings.HasPrefix(l, "dry-run ") || !strings.Contains(l, "Lambda failure record (RetriesExhausted): DisableKey b46aa6a2-a004-4022-f521-01e02597ad76: would invoke function") {
			t.Errorf("line for the failure record: %q", l)
		}
		if after := strings.Count(r.env.Lambda.Log(), "START RequestId"); after != before {
			t.Errorf("the function was invoked %d times in a dry run", after-before)
		}
		if got := r.visible(t); !slices.Equal(got, all) {
			t.Errorf("after the dry run the queue holds %v, want all 5 %v, visible", got, all)
		}
	})

	t.Run("redrive", func(t *testing.T) {
		code, stdout, stderr := runCLI(args)
		t.Logf("fsxkms %s\n%s", strings.Join(args, " "), stdout)
		if code != 1 {
			t.Errorf("exit %d, want 1 (one failed, two skipped); stderr:\n%s", code, stderr)
		}
		for _, tt := range []struct {
			id, status string
			want       []string
		}{
			{record, "redriven", []string{"Lambda failure record (RetriesExhausted): DisableKey b46aa6a2-a004-4022-f521-01e02597ad76: function answered {", `"events":1`, `"checked":1`, "; deleted"}},
			{deadLetter, "redriven", []string{"EventBridge dead letter of rule fsxkms-kms-api-calls (SDK_CLIENT_ERROR): EnableKey ", "; deleted"}},
			{sweep, "skipped", []string{"Lambda failure record (RetriesExhausted): Scheduled Event 53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa: for arn:aws:lambda:us-east-1:111122223333:function:fsxkms-sweep:$LATEST, not function; kept"}},
			{rejected, "failed", []string{"Lambda failure record (RetriesExhausted): not an event fsxkms decodes: the function failed: ", "neither an EventBridge event", "; kept"}},
			{garbage, "skipped", []string{"not JSON: not json; kept"}},
		} {
			l := lineOf(stdout, tt.id)
			if !strings.HasPrefix(l, tt.status+" ") {
				t.Errorf("message %s: line %q, want status %s", tt.id, l, tt.status)
			}
			for _, w := range tt.want {
				if !strings.Contains(l, w) {
					t.Errorf("message %s: line %q lacks %q", tt.id, l, w)
				}
			}
		}
		if want := "5 messages: 2 re-driven and deleted, 1 failed, 2 skipped (3 kept in the queue)\n"; !strings.HasSuffix(stdout, want) {
			t.Errorf("stdout:\n%s\nwant it to end with %s", stdout, want)
		}
		kept := []string{sweep, rejected, garbage}
		slices.Sort(kept)
		if got := r.visible(t); !slices.Equal(got, kept) {
			t.Errorf("the queue holds %v, want the 3 kept %v, visible at once", got, kept)
		}
		if log := r.env.Lambda.Log(); !strings.Contains(log, "b46aa6a2-a004-4022-f521-01e02597ad76") {
			t.Errorf("the function's log does not name the re-driven DisableKey event:\n%s", log)
		}
	})

	t.Run("max", func(t *testing.T) {
		r.purge(t)
		r.send(t, destinationRecord(t, "function", disableKey))
		r.send(t, destinationRecord(t, "function", enableKey))
		code, stdout, stderr := runCLI(append(args, "--max", "1"))
		if code != 0 || !strings.HasSuffix(stdout, "1 message: 1 re-driven and deleted, 0 failed, 0 skipped\nstopped after --max 1 messages; the queue may hold more\n") {
			t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		if got := r.visible(t); len(got) != 1 {
			t.Errorf("the queue holds %d messages, want 1 left", len(got))
		}
		code, stdout, _ = runCLI(args)
		if code != 0 || !strings.HasSuffix(stdout, "1 message: 1 re-driven and deleted, 0 failed, 0 skipped\n") {
			t.Errorf("second run: exit %d, stdout:\n%s", code, stdout)
		}
		code, stdout, _ = runCLI(args)
		if code != 0 || stdout != "0 messages: 0 re-driven and deleted, 0 failed, 0 skipped\n" {
			t.Errorf("empty queue: exit %d, stdout %q", code, stdout)
		}
	})

	// The function itself takes a failure record as it is (kmsevent.Decode
	// unwraps it), for aws lambda invoke with a message of the queue.
	t.Run("function takes a failure record", func(t *testing.T) {
		answer, err := r.env.Lambda.Invoke(context.Background(), []byte(destinationRecord(t, "function", disableKey)))
		if err != nil || !strings.Contains(string(answer), `"events":1,"ignored":0,"checked":1`) {
			t.Errorf("kms-events given a destination record: %s, %v", answer, err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		missing := strings.TrimSuffix(r.queueURL, "fsxkms-failures") + "no-such-queue"
		code, stdout, stderr := runCLI([]string{"redrive", "--queue-url", missing, "--function", "function"})
		if code != 3 || stdout != "" || !strings.HasPrefix(stderr, "fsxkms redrive: read "+missing+": ") {
			t.Errorf("missing queue: exit %d, stdout %q, stderr %q; want 3 and one line", code, stdout, stderr)
		}
		r.purge(t)
		id := r.send(t, destinationRecord(t, "other", disableKey))
		code, stdout, _ = runCLI([]string{"redrive", "--queue-url", r.queueURL, "--function", "other"})
		if l := lineOf(stdout, id); code != 1 || !strings.HasPrefix(l, "failed ") || !strings.Contains(l, "invoke: ") {
			t.Errorf("a function the emulator does not serve: exit %d, stdout:\n%s", code, stdout)
		}
		t.Setenv("AWS_ACCESS_KEY_ID", "")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "")
		code, _, stderr = runCLI(args)
		if code != 2 || stderr != "fsxkms redrive: "+noCredentials+"\n" {
			t.Errorf("no credentials: exit %d, stderr %q", code, stderr)
		}
	})
}

// TestSameFunction: a message is for the given function when the names
// match, qualifiers aside, and the accounts and Regions too when both are
// ARNs.
func TestSameFunction(t *testing.T) {
	const arn = "arn:aws:lambda:us-east-1:111122223333:function:fsxkms-kms-events"
	for _, tt := range []struct {
		recorded, given string
		want            bool
	}{
		{arn + ":$LATEST", "fsxkms-kms-events", true},
		{arn, arn, true},
		{arn + ":$LATEST", arn, true},
		{arn, "111122223333:function:fsxkms-kms-events", true},
		{arn, "fsxkms-sweep", false},
		{arn, "arn:aws:lambda:eu-west-1:111122223333:function:fsxkms-kms-events", false},
		{arn, "fsxkms-kms-events-2", false},
	} {
		if got := sameFunction(tt.recorded, tt.given); got != tt.want {
			t.Errorf("sameFunction(%q, %q) = %t, want %t", tt.recorded, tt.given, got, tt.want)
		}
	}
}

// fakeQueue serves messages once each and records what redrive does.
type fakeQueue struct {
	messages  []sqstypes.Message
	deleteErr error
	deleted   []string
	released  []string
}

func (q *fakeQueue) ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	if len(q.messages) == 0 {
		return &sqs.ReceiveMessageOutput{}, nil
	}
	m := q.messages[0]
	q.messages = q.messages[1:]
	return &sqs.ReceiveMessageOutput{Messages: []sqstypes.Message{m}}, nil
}

func (q *fakeQueue) DeleteMessage(_ context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	if q.deleteErr != nil {
		return nil, q.deleteErr
	}
	q.deleted = append(q.deleted, aws.ToString(in.ReceiptHandle))
	return &sqs.DeleteMessageOutput{}, nil
}

func (q *fakeQueue) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	q.released = append(q.released, aws.ToString(in.ReceiptHandle))
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

// fakeFunction answers every invocation with out.
type fakeFunction struct {
	out      lambda.InvokeOutput
	payloads []string
}

func (f *fakeFunction) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	f.payloads = append(f.payloads, string(in.Payload))
	out := f.out
	return &out, nil
}

// TestRedriveOutcomes: what counts as success (an answer that is JSON and
// not Lambda's error shape, then a delete that worked); everything else
// keeps the message.
func TestRedriveOutcomes(t *testing.T) {
	event := readEventFile(t, "DisableKey.json")
	msg := sqstypes.Message{MessageId: aws.String("m1"), ReceiptHandle: aws.String("h1"), Body: aws.String(destinationRecord(t, "fsxkms-kms-events", event))}
	tests := []struct {
		name      string
		out       lambda.InvokeOutput
		deleteErr error
		code      int
		want      string // in the message's line
		deleted   bool
	}{
		{"ok", lambda.InvokeOutput{StatusCode: 200, Payload: []byte(`{"events":1}`)}, nil, 0, `redriven  m1  Lambda failure record (RetriesExhausted): DisableKey b46aa6a2-a004-4022-f521-01e02597ad76: fsxkms-kms-events answered {"events":1}; deleted`, true},
		{"function error header", lambda.InvokeOutput{StatusCode: 200, FunctionError: aws.String("Unhandled"), Payload: []byte(`{"errorMessage":"boom","errorType":"InvocationFailed"}`)}, nil, 1, "the function failed: InvocationFailed: boom; kept", false},
		{"error shape without the header", lambda.InvokeOutput{StatusCode: 200, Payload: []byte(`{"errorMessage":"boom","errorType":"Runtime.ExitError"}`)}, nil, 1, "the function failed: Runtime.ExitError: boom; kept", false},
		{"not JSON (the emulator's timeout)", lambda.InvokeOutput{StatusCode: 200, Payload: []byte("Task timed out after 30.00 seconds")}, nil, 1, "the function's answer is not JSON: Task timed out after 30.00 seconds; kept", false},
		{"delete fails", lambda.InvokeOutput{StatusCode: 200, Payload: []byte(`{}`)}, errors.New("AccessDenied: sqs:DeleteMessage"), 1, "invoked, but not deleted: AccessDenied: sqs:DeleteMessage", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &fakeQueue{messages: []sqstypes.Message{msg}, deleteErr: tt.deleteErr}
			f := &fakeFunction{out: tt.out}
			var stdout, stderr strings.Builder
			r := redriver{queue: q, function: f, queueURL: "https://sqs.us-east-1.amazonaws.com/111122223333/q",
				functionName: "fsxkms-kms-events", max: 10, out: &stdout, errOut: &stderr}
			if code := r.run(context.Background()); code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			if !strings.Contains(stdout.String(), tt.want) {
				t.Errorf("stdout:\n%s\nwant a line with %q", &stdout, tt.want)
			}
			var compact bytes.Buffer // the record holds it as json.Marshal wrote it
			if err := json.Compact(&compact, event); err != nil {
				t.Fatal(err)
			}
			if len(f.payloads) != 1 || f.payloads[0] != compact.String() {
				t.Errorf("invoked with %q, want the record's requestPayload, the event", f.payloads)
			}
			if got := len(q.deleted) == 1; got != tt.deleted {
				t.Errorf("deleted %v, want deleted %t", q.deleted, tt.deleted)
			}
			if kept := !tt.deleted && tt.deleteErr == nil; kept != (len(q.released) == 1) {
				t.Errorf("released %v; want the message made visible again only when kept", q.released)
			}
		})
	}
}
