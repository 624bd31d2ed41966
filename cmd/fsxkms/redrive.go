package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/fsxkms/fsxkms/pkg/kmsevent"
)

const redriveHelp = `usage: fsxkms redrive --queue-url URL --function NAME [--max N] [--dry-run]
                      [--region R]

Re-drives the failure queue: receives its messages one at a time and invokes
the function synchronously with the event each holds (the requestPayload of
a Lambda destination record, or the message itself for an EventBridge
dead-letter message, which is the event). A message is deleted only when
the function succeeded; one whose invocation failed is kept, as is one
recorded for another function (a destination record's functionArn, or a
dead-letter message's TARGET_ARN: the queue holds the failures of both
fsxkms functions). Kept messages are made visible again at the end. One line
per message on standard output, then a summary.

Flags:
  --queue-url URL   the failure queue (the stack's FailureQueueUrl output)
  --function NAME   the function to invoke: its name or ARN (the stack's
                    KmsEventsFunctionArn output, or the sweep's)
  --max N           handle at most N messages, 1 to 10000 (default 100)
  --dry-run         say what would be invoked; invoke and delete nothing
  --region R        AWS Region (default: AWS_REGION, the profile's, or the
                    queue URL's)

It uses your AWS credentials and configuration, checked first, and needs
sqs:ReceiveMessage, sqs:DeleteMessage and sqs:ChangeMessageVisibility on the
queue and lambda:InvokeFunction on the function.

Exit status: 0 when every message handled was re-driven and deleted (with
--dry-run: could be), 1 when one failed or was skipped (it stays in the
queue), 2 on bad usage or configuration, 3 when the queue cannot be read.
`

const (
	defaultRedriveMax = 100
	// redriveVisibility hides a received message from other readers while
	// its invocation runs: longer than redriveInvokeTimeout.
	redriveVisibility = 10 * time.Minute
	// redriveInvokeTimeout bounds one synchronous invocation: the sweep
	// function's timeout is 5 minutes, kms-events' 1 minute.
	redriveInvokeTimeout = 6 * time.Minute
	// redriveWait is the long poll of each receive: an empty queue answers
	// after it.
	redriveWait = 2
)

// redriveQueue and redriveFunction are the AWS calls redrive makes.
type redriveQueue interface {
	ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(context.Context, *sqs.DeleteMessageInput, ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

type redriveFunction interface {
	Invoke(context.Context, *lambda.InvokeInput, ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// sqsRegion is the Region in an SQS queue URL
// (https://sqs.us-east-1.amazonaws.com/111122223333/name).
var sqsRegion = regexp.MustCompile(`^sqs\.([a-z]{2,3}(-[a-z]+)+-[0-9]+)\.amazonaws\.com(\.cn)?$`)

func runRedrive(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("fsxkms redrive")
	queueURL := fs.String("queue-url", "", "the failure queue's URL")
	function := fs.String("function", "", "the function to invoke")
	limit := fs.Int("max", defaultRedriveMax, "messages to handle at most")
	dryRun := fs.Bool("dry-run", false, "invoke and delete nothing")
	region := fs.String("region", "", "AWS Region")
	if code, ok := parseFlags(fs, redriveHelp, args, stdout, stderr); !ok {
		return code
	}
	u, err := url.Parse(*queueURL)
	switch {
	case *queueURL == "":
		return usageError(stderr, fs.Name(), "--queue-url is required (the stack's FailureQueueUrl output)")
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.Trim(u.Path, "/") == "":
		return usageError(stderr, fs.Name(), fmt.Sprintf("--queue-url %q: want a queue URL such as https://sqs.us-east-1.amazonaws.com/111122223333/name", *queueURL))
	case *function == "":
		return usageError(stderr, fs.Name(), "--function is required (a function name or ARN)")
	case *limit < 1 || *limit > 10000:
		return usageError(stderr, fs.Name(), fmt.Sprintf("--max %d: want a number from 1 to 10000", *limit))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg, _, ok := loadAWS(ctx, fs.Name(), *region, stderr)
	if !ok {
		return 2
	}
	if cfg.Region == "" {
		if m := sqsRegion.FindStringSubmatch(u.Host); m != nil {
			cfg.Region = m[1]
		} else {
			fmt.Fprintf(stderr, "%s: no AWS region: set AWS_REGION or pass --region\n", fs.Name())
			return 2
		}
	}
	r := redriver{
		queue: sqs.NewFromConfig(cfg), function: lambda.NewFromConfig(cfg),
		queueURL: *queueURL, functionName: *function, max: *limit, dryRun: *dryRun,
		out: stdout, errOut: stderr,
	}
	return r.run(ctx)
}

// redriver re-drives one queue into one function.
type redriver struct {
	queue        redriveQueue
	function     redriveFunction
	queueURL     string
	functionName string
	max          int
	dryRun       bool
	out, errOut  io.Writer

	redriven, failed, skipped int
	kept                      []string // receipt handles to make visible again
}

func (r *redriver) run(ctx context.Context) int {
	seen := map[string]bool{}
	handled := 0
	var readErr error
	for handled < r.max && ctx.Err() == nil {
		out, err := r.queue.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(r.queueURL),
			MaxNumberOfMessages:         1,
			VisibilityTimeout:           int32(redriveVisibility / time.Second),
			WaitTimeSeconds:             redriveWait,
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount},
		})
		if err != nil {
			if ctx.Err() == nil {
				readErr = err
			}
			break
		}
		fresh := 0
		for _, m := range out.Messages {
			id := aws.ToString(m.MessageId)
			if seen[id] { // back after a visibility timeout: handled already
				continue
			}
			seen[id] = true
			fresh++
			handled++
			r.handle(ctx, m)
		}
		if fresh == 0 {
			break
		}
	}
	r.release()
	if readErr != nil {
		fmt.Fprintf(r.errOut, "fsxkms redrive: read %s: %s\n", r.queueURL, oneLine(readErr))
		if handled == 0 {
			return 3
		}
	}
	verb := "re-driven and deleted"
	if r.dryRun {
		verb = "would be re-driven (dry run: nothing invoked or deleted)"
	}
	fmt.Fprintf(r.out, "%d %s: %d %s, %d failed, %d skipped", handled, plural(handled, "message", "messages"), r.redriven, verb, r.failed, r.skipped)
	if n := r.failed + r.skipped; n > 0 {
		fmt.Fprintf(r.out, " (%d kept in the queue)", n)
	}
	fmt.Fprintln(r.out)
	if handled == r.max {
		fmt.Fprintf(r.out, "stopped after --max %d messages; the queue may hold more\n", r.max)
	}
	if ctx.Err() != nil {
		fmt.Fprintln(r.errOut, "fsxkms redrive: interrupted")
	}
	if r.failed > 0 || r.skipped > 0 || readErr != nil || ctx.Err() != nil {
		return 1
	}
	return 0
}

// handle re-drives one message, printing one line.
func (r *redriver) handle(ctx context.Context, m sqstypes.Message) {
	id := aws.ToString(m.MessageId)
	line := func(status, what string) { fmt.Fprintf(r.out, "%-9s %s  %s\n", status, kmsevent.Clip(id), what) }
	body := []byte(aws.ToString(m.Body))
	payload, inv, err := kmsevent.Unwrap(body)
	if err != nil || !json.Valid(payload) {
		if err == nil {
			err = fmt.Errorf("not JSON: %s", kmsevent.ClipBytes(body))
		}
		r.keep(m)
		r.skipped++
		line("skipped", fmt.Sprintf("%s; kept", oneLine(err)))
		return
	}
	what := describeMessage(payload, inv, m.MessageAttributes)
	if target := messageFunction(inv, m.MessageAttributes); target != "" && !sameFunction(target, r.functionName) {
		r.keep(m)
		r.skipped++
		line("skipped", fmt.Sprintf("%s: for %s, not %s; kept", what, kmsevent.Clip(target), kmsevent.Clip(r.functionName)))
		return
	}
	if r.dryRun {
		r.keep(m)
		r.redriven++
		line("dry-run", fmt.Sprintf("%s: would invoke %s with %d bytes", what, kmsevent.Clip(r.functionName), len(payload)))
		return
	}
	answer, err := r.invoke(ctx, payload)
	if err != nil {
		r.keep(m)
		r.failed++
		line("failed", fmt.Sprintf("%s: %s; kept", what, oneLine(err)))
		return
	}
	if _, err := r.queue.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(r.queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
		r.failed++ // it comes back after the visibility timeout; invoking again is harmless
		line("failed", fmt.Sprintf("%s: invoked, but not deleted: %s", what, oneLine(err)))
		return
	}
	r.redriven++
	line("redriven", fmt.Sprintf("%s: %s answered %s; deleted", what, kmsevent.Clip(r.functionName), kmsevent.ClipBytes(answer)))
}

// invoke calls the function synchronously with payload and returns its
// answer, or why it failed: an AWS error, a function error (the
// X-Amz-Function-Error header, or an answer of Lambda's error shape, which
// the Lambda Runtime Interface Emulator sends without the header), or an
// answer that is not JSON (the emulator's timeout text).
func (r *redriver) invoke(ctx context.Context, payload []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, redriveInvokeTimeout)
	defer cancel()
	out, err := r.function.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(r.functionName),
		InvocationType: lambdatypes.InvocationTypeRequestResponse,
		Payload:        payload,
	})
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	var fe struct {
		ErrorType    *string `json:"errorType"`
		ErrorMessage *string `json:"errorMessage"`
	}
	isError := json.Unmarshal(out.Payload, &fe) == nil && fe.ErrorMessage != nil && fe.ErrorType != nil
	switch {
	case out.FunctionError != nil || isError:
		why := aws.ToString(out.FunctionError)
		if isError {
			why = strings.TrimPrefix(aws.ToString(fe.ErrorType)+": "+aws.ToString(fe.ErrorMessage), ": ")
		}
		return nil, fmt.Errorf("the function failed: %s", why)
	case !json.Valid(out.Payload):
		return nil, fmt.Errorf("the function's answer is not JSON: %s", kmsevent.ClipBytes(out.Payload))
	}
	return out.Payload, nil
}

func (r *redriver) keep(m sqstypes.Message) {
	r.kept = append(r.kept, aws.ToString(m.ReceiptHandle))
}

// release makes the kept messages visible again, so that the queue's alarm
// and the next redrive see them now rather than after redriveVisibility.
func (r *redriver) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	failed := 0
	var last error
	for _, h := range r.kept {
		if _, err := r.queue.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(r.queueURL), ReceiptHandle: aws.String(h), VisibilityTimeout: 0,
		}); err != nil {
			failed++
			last = err
		}
	}
	if failed > 0 {
		fmt.Fprintf(r.errOut, "fsxkms redrive: %d kept %s stay hidden until their visibility timeout (%s): %s\n",
			failed, plural(failed, "message", "messages"), redriveVisibility, oneLine(last))
	}
}

// describeMessage names a message for its line: where it came from and the
// event it holds.
func describeMessage(payload []byte, inv *kmsevent.Invocation, attrs map[string]sqstypes.MessageAttributeValue) string {
	var from string
	switch {
	case inv != nil:
		from = "Lambda failure record"
		if inv.Condition != "" {
			from += " (" + kmsevent.Clip(inv.Condition) + ")"
		}
	case attr(attrs, "RULE_ARN") != "":
		from = "EventBridge dead letter of rule " + kmsevent.Clip(lastPart(attr(attrs, "RULE_ARN"), "/"))
		if c := attr(attrs, "ERROR_CODE"); c != "" {
			from += " (" + kmsevent.Clip(c) + ")"
		}
	default:
		from = "message"
	}
	events, err := kmsevent.Decode(payload)
	switch {
	case len(events) == 1:
		return fmt.Sprintf("%s: %s %s", from, kmsevent.Clip(events[0].EventName), kmsevent.Clip(events[0].EventID))
	case len(events) > 1:
		return fmt.Sprintf("%s: %d events (%s %s, ...)", from, len(events), kmsevent.Clip(events[0].EventName), kmsevent.Clip(events[0].EventID))
	case err != nil:
		return fmt.Sprintf("%s: not an event fsxkms decodes", from)
	}
	return from + ": no event"
}

// messageFunction is the function a message was recorded for: a destination
// record's function ARN, or an EventBridge dead-letter message's TARGET_ARN
// attribute; empty when it does not say.
func messageFunction(inv *kmsevent.Invocation, attrs map[string]sqstypes.MessageAttributeValue) string {
	if inv != nil && inv.FunctionARN != "" {
		return inv.FunctionARN
	}
	if t := attr(attrs, "TARGET_ARN"); strings.Contains(t, ":function:") {
		return t
	}
	return ""
}

// sameFunction reports whether the function ARN a message names is the
// function given by name or ARN: their names are the same (qualifiers
// aside), and so are their accounts and Regions when both are ARNs.
func sameFunction(recorded, given string) bool {
	parts := func(s string) (prefix, name string) {
		before, rest, ok := strings.Cut(s, ":function:")
		if !ok {
			return "", s
		}
		name, _, _ = strings.Cut(rest, ":")
		return before, name
	}
	rp, rn := parts(recorded)
	gp, gn := parts(given)
	if rn != gn {
		return false
	}
	return rp == "" || gp == "" || !strings.HasPrefix(gp, "arn:") || rp == gp
}

func attr(attrs map[string]sqstypes.MessageAttributeValue, name string) string {
	return aws.ToString(attrs[name].StringValue)
}

func lastPart(s, sep string) string {
	return s[strings.LastIndex(s, sep)+1:]
}
