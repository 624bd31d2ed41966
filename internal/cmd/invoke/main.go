// Command invoke sends one event file to the real kms-events bootstrap under
// the Lambda Runtime Interface Emulator, on the local stack seeded with the
// demo world, and prints the function's answer and the alerts it published.
// `make invoke EVENT=events/<file>.json` runs it when `sam` is not installed.
//
// Before invoking, it makes on the local stack the change the event records
// (a DisableKey event disables the key, a PutKeyPolicy event puts its
// policy, ...), so that the function, which re-reads the key as it is now,
// sees what it would see in AWS. -apply=false sends the event alone.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/fsxkms/fsxkms/internal/localrun"
	"github.com/fsxkms/fsxkms/pkg/kmsevent"
)

func main() {
	apply := flag.Bool("apply", true, "make the event's change on the local stack before invoking")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: invoke [-apply=false] EVENT.json")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	os.Exit(run(flag.Arg(0), *apply))
}

func run(path string, apply bool) int {
	ctx := context.Background()
	raw, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "invoke:", err)
		return 2
	}
	evs, decodeErr := kmsevent.Decode(raw)
	env, err := localrun.Start(ctx, localrun.Options{Log: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "invoke:", err)
		return 1
	}
	defer env.Stop()
	if apply && decodeErr == nil {
		for _, ev := range evs {
			if msg, err := applyChange(ctx, env, ev); err != nil {
				fmt.Fprintf(os.Stderr, "invoke: could not make the change %s records: %v\n", ev.EventName, err)
			} else if msg != "" {
				fmt.Fprintln(os.Stderr, "on the local stack:", msg)
			}
		}
	}
	answer, err := env.Invoke(ctx, raw)
	if err != nil {
		fmt.Printf("kms-events failed (Lambda would retry this event, then send it to the failure destination):\n%v\n", err)
		fmt.Fprintln(os.Stderr, env.Lambda.Log())
		return 1
	}
	fmt.Printf("kms-events answered: %s\n", strings.TrimSpace(string(answer)))
	ds := env.Drain(1500 * time.Millisecond)
	if len(ds) == 0 {
		fmt.Println("no alert published")
	}
	for _, d := range ds {
		fmt.Printf("\nalert published to %s\nSubject: %s\n\n%s\n", env.TopicARN, d.Subject, strings.TrimRight(d.Email, "\n"))
	}
	return 0
}

// applyChange makes on the local stack the change a successful event records.
func applyChange(ctx context.Context, env *localrun.Env, ev kmsevent.Event) (string, error) {
	if ev.Failed || len(ev.KeyARNs) == 0 {
		return "", nil
	}
	key := aws.String(ev.KeyARNs[0])
	var err error
	switch ev.EventName {
	case "DisableKey":
		_, err = env.KMS.DisableKey(ctx, &kms.DisableKeyInput{KeyId: key})
	case "EnableKey":
		_, err = env.KMS.EnableKey(ctx, &kms.EnableKeyInput{KeyId: key})
	case "ScheduleKeyDeletion":
		days := int32(ev.PendingWindowInDays)
		if days < 7 || days > 30 {
			days = 7
		}
		_, err = env.KMS.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: key, PendingWindowInDays: aws.Int32(days)})
	case "CancelKeyDeletion":
		_, err = env.KMS.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: key, PendingWindowInDays: aws.Int32(7)})
		if err == nil {
			_, err = env.KMS.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: key})
		}
		if err == nil { // as AWS does: a cancelled key is left Disabled
			_, err = env.KMS.DisableKey(ctx, &kms.DisableKeyInput{KeyId: key})
		}
	case "PutKeyPolicy":
		if ev.Policy == "" {
			return "", nil
		}
		_, err = env.KMS.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: key, PolicyName: aws.String("default"), Policy: aws.String(ev.Policy)})
	case "RevokeGrant", "RetireGrant":
		// The sample's grant id is not on the local stack: take away the
		// key's grants, which is what the event is about.
		for _, g := range env.Grants[ev.KeyARNs[0]] {
			if _, err = env.KMS.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: key, GrantId: aws.String(g)}); err != nil {
				break
			}
		}
	default:
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s on %s", ev.EventName, ev.KeyARNs[0]), nil
}
