// Command demo runs the fsxkms monitor's main job locally: the real
// kms-events bootstrap under the Lambda Runtime Interface Emulator, on the
// local AWS stack seeded with keys that FSx file systems use. It plays a
// scenario of KMS changes, sends the CloudTrail event of each one to the
// function, and prints the alerts as a person receives them: the email and
// the chat card. `make demo` runs it.
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
	env, err := localrun.Start(ctx, localrun.Options{Log: progress})
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

	type row struct{ step, want, got, severity string }
	var rows []row
	failed := false
	for i, step := range scenario.Demo(env.Grants) {
		fmt.Fprintf(out, "%s\nStep %d: %s\n%s\n", strings.Repeat("=", 78), i+1, step.Title, strings.Repeat("=", 78))
		if step.Change != nil {
			if err := step.Change(ctx, env.KMS); err != nil {
				fmt.Fprintf(os.Stderr, "demo: step %d: %v\n", i+1, err)
				return 1
			}
		}
		answer, err := env.Invoke(ctx, step.Event)
		if err != nil {
			fmt.Fprintf(os.Stderr, "demo: step %d: invoke: %v\n%s\n", i+1, err, env.Lambda.Log())
			return 1
		}
		fmt.Fprintf(out, "kms-events answered: %s\n\n", strings.TrimSpace(string(answer)))
		r := row{step: step.Title, want: orNone(step.Want)}
		if step.Want == "" {
			if d, ok := env.Next(500 * time.Millisecond); ok {
				r.got, r.severity = first(d), string(d.Machine.Severity)
				show(out, d, quiet)
			} else {
				r.got = "none"
				fmt.Fprintln(out, "(no alert: nothing for a person to do)")
			}
		} else if d, ok := env.Next(10 * time.Second); ok {
			r.got, r.severity = first(d), string(d.Machine.Severity)
			show(out, d, quiet)
		} else {
			r.got = "none (timed out)"
		}
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
		fmt.Fprintf(out, "%2d. %-9s %-26s %s\n    %s\n", i+1, orDash(r.severity), r.got, mark, r.step)
	}
	if failed {
		fmt.Fprintln(out, "\ndemo: some steps did not raise the expected alert")
		return 1
	}
	return 0
}

func first(d localrun.Delivery) string {
	if len(d.Machine.Findings) == 0 {
		return "?"
	}
	return d.Machine.Findings[0].Code
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
	for _, l := range strings.Split(card.Content.Description, "\n") {
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

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
