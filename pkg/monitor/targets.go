package monitor

import (
	"fmt"
	"slices"
	"strings"

	"github.com/fsxkms/fsxkms/pkg/kmsevent"
)

// A refused call's keyId is whatever the caller typed: an alias or key ARN
// in any account, Region or partition. The monitor reads (DescribeKey and
// the rest) only keys and aliases in the account and Region the event was
// recorded in, so an event cannot make it read elsewhere.

// scoped is the keys and aliases of an event that the monitor may read,
// and those it must not, each with the reason.
type scoped struct {
	keyARNs []string
	// aliases are alias ARNs in the event's account and Region: alias
	// names ("alias/x") are qualified with them.
	aliases []string
	// refused maps a key ARN, alias ARN or alias name to why it is not read.
	refused []refusedTarget
}

type refusedTarget struct{ target, why string }

// scopeTargets splits the keys and aliases ev names into those in the
// event's own account (recipientAccountId, or the EventBridge envelope's
// account) and Region, and the others.
func scopeTargets(ev kmsevent.Event) scoped {
	var s scoped
	account, region := ev.Account, ev.Region
	for _, arn := range ev.KeyARNs {
		if why := outOfScope(arn, account, region); why != "" {
			s.refused = append(s.refused, refusedTarget{arn, why})
			continue
		}
		s.keyARNs = appendNew(s.keyARNs, arn)
	}
	for _, a := range ev.Aliases {
		if !strings.HasPrefix(a, "arn:") {
			if !strings.HasPrefix(a, "alias/") {
				s.refused = append(s.refused, refusedTarget{a, "neither an alias ARN nor an alias name"})
				continue
			}
			if account == "" || region == "" {
				s.refused = append(s.refused, refusedTarget{a, "the event names no account or Region to resolve the alias in"})
				continue
			}
			a = "arn:" + partitionOf(region) + ":kms:" + region + ":" + account + ":" + a
		}
		if why := outOfScope(a, account, region); why != "" {
			s.refused = append(s.refused, refusedTarget{a, why})
			continue
		}
		s.aliases = appendNew(s.aliases, a)
	}
	return s
}

// outOfScope returns why the KMS key or alias ARN arn is not in account and
// region (and region's partition), or "" when it is.
func outOfScope(arn, account, region string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "kms" {
		return "not a KMS ARN"
	}
	switch {
	case account == "" || region == "":
		return "the event names no account or Region to check it against"
	case parts[4] != account:
		return fmt.Sprintf("in account %s, not the event's account %s", clip(parts[4]), clip(account))
	case parts[3] != region:
		return fmt.Sprintf("in Region %s, not the event's Region %s", clip(parts[3]), clip(region))
	case parts[1] != partitionOf(region):
		return fmt.Sprintf("in partition %s, not %s of the event's Region %s", clip(parts[1]), partitionOf(region), clip(region))
	}
	return ""
}

// partitionOf returns the partition of an AWS Region.
func partitionOf(region string) string {
	for _, p := range []struct{ prefix, partition string }{
		{"cn-", "aws-cn"},
		{"us-gov-", "aws-us-gov"},
		{"us-isob-", "aws-iso-b"},
		{"us-iso-", "aws-iso"},
		{"eu-isoe-", "aws-iso-e"},
		{"us-isof-", "aws-iso-f"},
		{"eusc-", "aws-eusc"},
	} {
		if strings.HasPrefix(region, p.prefix) {
			return p.partition
		}
	}
	return "aws"
}

// appendNew appends s to list unless it is there already.
func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
