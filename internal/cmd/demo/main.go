// Command demo runs the fsxkms monitor's main job locally: the real
// kms-events bootstrap under the Lambda Runtime Interface Emulator, on the
// local AWS stack seeded with keys that FSx file systems use. It plays a
// scenario of KMS changes, sends the CloudTrail event of each one to the
// function (and runs the sweep function twice), and prints the alerts as a
// person receives them: the email and the chat card. The functions keep
// their alert state in the stack's DynamoDB, so a redelivered event and a
// second sweep are silent and a recovery says RESOLVED. `make demo` runs it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/internal/devstack/fsxserver"
	"github.com/fsxkms/fsxkms/internal/localrun"
	"github.com/fsxkms/fsxkms/internal/scenario"
)

func main() {
	quiet := flag.Bool("quiet", false, "print only the summary")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Stdout, *quiet))
}

func run(ctx context.Context, out io.Writer, quiet bool) int {
	start := time.Now()
	progress := io.Writer(os.Stderr)
	env, err := localrun.Start(ctx, localrun.Options{Log: progress, MemberAccounts: []string{memberA}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "demo: cleanup:", err)
		}
	}()
	fmt.Fprintf(progress, "ready in %s (Lambda emulator answered in %s)\n\n", time.Since(start).Round(time.Millisecond), env.Lambda.FirstAnswer().Round(time.Millisecond))

	var sweep, central *devstack.Lambda
	defer func() {
		if sweep != nil {
			sweep.Stop()
		}
		if central != nil {
			central.Stop()
		}
	}()
	org, err := orgSteps(ctx, env)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo: organization:", err)
		return 1
	}
	var steps []demoStep
	for _, st := range scenario.Demo(env.Grants) {
		steps = append(steps, demoStep{Step: st})
	}
	steps = append(steps, org...)
	type row struct{ step, want, got, severity string }
	var rows []row
	failed := false
	for i, step := range steps {
		fmt.Fprintf(out, "%s\nStep %d: %s\n%s\n", strings.Repeat("=", 78), i+1, step.Title, strings.Repeat("=", 78))
		if step.Change != nil {
			if err := step.Change(ctx, env.KMS); err != nil {
				fmt.Fprintf(os.Stderr, "demo: step %d: %v\n", i+1, err)
				return 1
			}
		}
		fn, payload, name := env.Lambda, step.Event, "kms-events"
		if step.Sweep {
			if sweep == nil {
				if sweep, err = env.StartFunction(ctx, "sweep", "", nil); err != nil {
					fmt.Fprintf(os.Stderr, "demo: step %d: start the sweep function: %v\n", i+1, err)
					return 1
				}
			}
			fn, payload, name = sweep, scheduledEvent, "sweep"
		}
		if step.central {
			if central == nil {
				if central, err = env.StartFunction(ctx, "kms-events", "", []string{"DEPLOYMENT=central",
					"MEMBER_ACCOUNTS=" + memberA + "," + memberB}); err != nil {
					fmt.Fprintf(os.Stderr, "demo: step %d: start the organization's kms-events: %v\n", i+1, err)
					return 1
				}
			}
			fn, name = central, "kms-events (organization)"
		}
		answer, err := fn.Invoke(ctx, payload)
		if err != nil {
			fmt.Fprintf(os.Stderr, "demo: step %d: invoke %s: %v\n%s\n", i+1, name, err, fn.Log())
			return 1
		}
		fmt.Fprintf(out, "%s answered: %s\n\n", name, strings.TrimSpace(string(answer)))
		// The function's answer says how many alerts it sent: wait for
		// exactly those, no guessing with a sleep.
		var sent struct {
			Alerts      int  `json:"alerts"`
			SummarySent bool `json:"summarySent"`
		}
		if err := json.Unmarshal(answer, &sent); err != nil {
			fmt.Fprintf(os.Stderr, "demo: step %d: %s's answer is not JSON: %v\n", i+1, name, err)
			return 1
		}
		if sent.SummarySent {
			sent.Alerts++
		}
		var got []string
		severity := ""
		for range sent.Alerts {
			d, ok := env.Next(10 * time.Second)
			if !ok {
				got = append(got, "none (timed out)")
				break
			}
			got = append(got, first(d))
			if severity == "" {
				severity = string(d.Machine.Severity)
			}
			show(out, d, quiet)
		}
		if len(got) == 0 {
			fmt.Fprintln(out, "(no alert: nothing new for a person to do)")
		}
		r := row{step: step.Title, want: orNone(step.Want), got: orNone(got), severity: severity}
		if r.got != r.want {
			failed = true
		}
		rows = append(rows, r)
		fmt.Fprintln(out)
	}

	fmt.Fprintf(out, "%s\nSummary (%s)\n%s\n", strings.Repeat("=", 78), time.Since(start).Round(time.Millisecond), strings.Repeat("=", 78))
	for i, r := range rows {
		mark := "ok"
		if r.got != r.want {
			mark = "UNEXPECTED (want " + r.want + ")"
		}
		fmt.Fprintf(out, "%2d. %-9s %-34s %s\n    %s\n", i+1, orDash(r.severity), r.got, mark, r.step)
	}
	if failed {
		fmt.Fprintln(out, "\ndemo: some steps did not send the expected alerts")
		return 1
	}
	return 0
}

// demoStep is a scenario step, or one the organization's kms-events
// (DEPLOYMENT=central) gets from a member account.
type demoStep struct {
	scenario.Step
	central bool
}

// The organization of the demo: memberA has fsxkms's read role; memberB
// has none (never deployed the member StackSet).
const (
	memberA = "222233334444"
	memberB = "333344445555"
)

// orgSteps makes memberA's world (a key with an FSx-style policy for the
// account, and a file system on it) and returns the organization's steps:
// memberA disables its key, and an event comes from memberB.
func orgSteps(ctx context.Context, env *localrun.Env) ([]demoStep, error) {
	// The stack's KMS client, signing as memberA.
	client := kms.New(env.KMS.Options(), func(o *kms.Options) { o.Credentials = devstack.CredentialsFor(memberA) })
	policy := strings.ReplaceAll(scenario.Policy(false), scenario.Account, memberA)
	out, err := client.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(policy), Description: aws.String("member's FSx key")})
	if err != nil {
		return nil, fmt.Errorf("create %s's key: %w", memberA, err)
	}
	key := aws.ToString(out.KeyMetadata.Arn)
	doc := fmt.Sprintf(`{"FileSystems":[{"OwnerId":%q,"CreationTime":1717430400,"FileSystemId":"fs-0a1b2c3d4e5f6a001",`+
		`"FileSystemType":"ONTAP","Lifecycle":"AVAILABLE","StorageCapacity":1024,"KmsKeyId":%q,`+
		`"ResourceARN":"arn:aws:fsx:us-east-1:%s:file-system/fs-0a1b2c3d4e5f6a001"}],"Backups":[]}`, memberA, key, memberA)
	inv, err := fsxserver.ParseInventory([]byte(doc))
	if err != nil {
		return nil, err
	}
	if err := env.Stack.SetInventoryFor(memberA, inv); err != nil {
		return nil, err
	}
	event := func(name, keyARN string, seq int) []byte {
		c := scenario.CallFor(name, keyARN)
		c.Seq = seq
		return scenario.APICall(c)
	}
	return []demoStep{
		{central: true, Step: scenario.Step{
			Title: "organization: in member account " + memberA + ", bob disables its FSx key; the central function reads it with the member's read role",
			Change: func(ctx context.Context, _ scenario.StepKMS) error {
				_, err := client.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(key)})
				return err
			},
			Event: event("DisableKey", key, 901),
			Want:  []string{"KEY_DISABLED"},
		}},
		{central: true, Step: scenario.Step{
			Title: "organization: an event from member account " + memberB + ", which has no read role: the monitor says it is blind there",
			Event: event("DisableKey", "arn:aws:kms:us-east-1:"+memberB+":key/4234abcd-12ab-34cd-56ef-1234567890ab", 902),
			Want:  []string{"MONITOR_ACCESS_DENIED"},
		}},
	}, nil
}

// scheduledEvent is what EventBridge Scheduler's rule delivers to the sweep.
var scheduledEvent = []byte(`{"version":"0","id":"demo-sweep","detail-type":"Scheduled Event","source":"aws.events",` +
	`"account":"111122223333","time":"2026-11-26T09:30:00Z","region":"us-east-1","resources":[],"detail":{}}`)

func first(d localrun.Delivery) string {
	if len(d.Machine.Findings) == 0 {
		return "?"
	}
	return string(d.Machine.Findings[0].Code)
}

// show prints an alert as its readers see it: the email, then the chat card.
func show(out io.Writer, d localrun.Delivery, quiet bool) {
	if quiet {
		fmt.Fprintf(out, "alert: [%s] %s\n", d.Machine.Severity, d.Subject)
		return
	}
	fmt.Fprintf(out, "--- email -------------------------------------------------------------------\n")
	fmt.Fprintf(out, "Subject: %s\n\n%s\n", d.Subject, strings.TrimRight(d.Email, "\n"))
	fmt.Fprintf(out, "--- chat (AWS Chatbot custom notification) ----------------------------------\n")
	var card struct {
		Content struct {
			Title       string   `json:"title"`
			Description string   `json:"description"`
			NextSteps   []string `json:"nextSteps"`
			Keywords    []string `json:"keywords"`
		} `json:"content"`
		Metadata struct {
			ThreadID string `json:"threadId"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(d.Chat, &card); err != nil {
		fmt.Fprintf(out, "(chat card is not JSON: %v)\n", err)
		return
	}
	fmt.Fprintf(out, "| %s\n", card.Content.Title)
	for l := range strings.SplitSeq(card.Content.Description, "\n") {
		fmt.Fprintf(out, "| %s\n", l)
	}
	if len(card.Content.NextSteps) > 0 {
		fmt.Fprintln(out, "| Next steps:")
		for _, s := range card.Content.NextSteps {
			fmt.Fprintf(out, "|  - %s\n", strings.ReplaceAll(s, "\n", "\n|    "))
		}
	}
	fmt.Fprintf(out, "| keywords: %s   thread: %s\n", strings.Join(card.Content.Keywords, ", "), card.Metadata.ThreadID)
	fmt.Fprintf(out, "--- SNS message attributes: %v\n", d.Attributes)
}

func orNone(codes []string) string {
	if len(codes) == 0 {
		return "none"
	}
	return strings.Join(codes, " + ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
