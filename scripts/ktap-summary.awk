# SPDX-License-Identifier: GPL-2.0
#
# Reads the concatenated KTAP documents of a test run and prints the one
# closing line "N passed, N failed, N skipped". A document whose program
# died before reporting every planned test counts the missing ones as
# failed, and a program that exited non-zero without a failing test
# counts one failure, so a crash can never read as a pass.

function close_doc(status) {
	if (!in_doc)
		return
	missing = plan - results
	if (missing > 0) {
		printf("# %s: %d planned test(s) never reported\n", doc, missing)
		failed += missing
		doc_failed += missing
	}
	if (status != 0 && doc_failed == 0) {
		printf("# %s: exited with status %d\n", doc, status)
		failed++
	}
	in_doc = 0
}

/^KTAP version/ {
	close_doc(0)
	in_doc = 1; plan = 0; results = 0; doc_failed = 0; doc = "?"
	next
}
in_doc && /^# [^ ]+$/ && doc == "?" { doc = $2 }
/^1\.\.[0-9]+/ { plan = substr($1, 4) + 0; next }
/^ok [0-9]+ / {
	results++
	if ($0 ~ /# SKIP/) skipped++; else passed++
	next
}
/^not ok [0-9]+ / { results++; failed++; doc_failed++; next }
/^# selftest-exit: / { close_doc($4 + 0); next }
END {
	close_doc(0)
	printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	exit failed > 0
}
