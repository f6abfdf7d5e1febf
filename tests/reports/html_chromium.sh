#!/usr/bin/env bash
# html_chromium.sh HARNESS DRIVER HERE OUTDIR
# Runs a scenario that fails (a flush whose PONG the mock holds, after 200
# publishes) beside one that passes, writes the HTML report, and opens it in
# headless Chromium. The report itself has no script; for the check a copy
# gets one that reads what the browser laid out, as a person would see it:
#   - the counts at the top, and the FAIL filter hiding the passing run;
#   - the failing step's text, visible;
#   - in the SVG diagram below it, the row marked as the cause, visible, and
#     it is the held PONG (its text names PONG and the rule's "hold");
#   - the whole timeline folded (one click away), its similar rows collapsed.
# Also saves a screenshot (OUTDIR/report.png) to look at.
set -uo pipefail
harness=$1 driver=$2 here=$3 out=$4
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "chromium not installed: skipped (ci/setup installs it)"
  exit 77
fi
rm -rf "$out" && mkdir -p "$out"
"$harness" --driver "$driver" --html "$out/report.html" \
  "$here/held-pong-after-burst.json" \
  "$NM_SOURCE_DIR/scenarios/flush/flush-after-publish-burst.json" >"$out/harness.log" 2>&1
st=$?
[ $st -eq 1 ] || { echo "harness exit $st, want 1 (one failing run)"; cat "$out/harness.log"; exit 1; }

browse() { # browse ARGS... URL: one headless Chromium, bounded in time
  local profile
  profile=$(mktemp -d "$out/profile.XXXXXX")
  timeout 90 "$browser" --headless --no-sandbox --disable-gpu \
    --disable-background-networking --disable-component-update --disable-sync \
    --no-first-run --user-data-dir="$profile" --window-size=1400,1000 "$@" \
    2>>"$out/chromium.log"
}

cp "$out/report.html" "$out/check.html"
cat >>"$out/check.html" <<'JS'
<script>
(() => {
  // Laid out, not hidden by CSS, not inside a closed <details>.
  const seen = (el) => !!el && el.checkVisibility({visibilityProperty: true,
    contentVisibilityAuto: true, opacityProperty: true}) &&
    el.getBoundingClientRect().height > 0;
  const r = {};
  r.counts = document.querySelector(".counts")?.innerText.replace(/\s+/g, " ");
  const step = document.querySelector("section.run .failure-what");
  r.step = seen(step) ? step.innerText : "(not visible)";
  const cause = document.querySelector("section.run svg.seq g.cause");
  r.cause = seen(cause) ? cause.textContent : "(not visible)";
  r.causeBelowStep = !!(cause && step &&
    cause.getBoundingClientRect().top > step.getBoundingClientRect().bottom);
  const tl = document.querySelector("details.timeline");
  r.timelineFolded = !!tl && !tl.open && !seen(tl.querySelector("table"));
  const pass = document.querySelector("table.runs tr.r-PASS");
  r.passShown = seen(pass);
  // What a click does: on the summary, on the FAIL filter's label.
  tl.querySelector("summary").click();
  document.querySelector("label[for=f-FAIL]").click();
  setTimeout(() => {
    r.timelineOpens = seen(tl.querySelector("table"));
    r.collapsed = [...tl.querySelectorAll("tr.gap")].map((e) => e.innerText.trim()).join(" / ");
    // 200 PUBs in, 200 MSGs out, 200 msg events: most fold into "N similar"
    // rows, however they interleave.
    const folded = [...tl.querySelectorAll("tr.gap")]
      .map((e) => parseInt(e.innerText.replace(/\D+/g, " ").trim(), 10) || 0)
      .reduce((a, b) => a + b, 0);
    r.foldedAtLeast400 = folded >= 400;
    r.rowsShown = tl.querySelectorAll("tr").length;
    r.timelineCause = seen(tl.querySelector("tr.cause"));
    r.passShownWithFailFilter = seen(pass);
    r.failShownWithFailFilter = seen(document.querySelector("table.runs tr.r-FAIL"));
    document.body.setAttribute("data-check", JSON.stringify(r));
  }, 100);
})();
</script>
JS
browse --virtual-time-budget=5000 --dump-dom "file://$out/check.html" >"$out/dom.html"
check=$(grep -o 'data-check="[^"]*"' "$out/dom.html" | head -1 |
  sed 's/^data-check="//; s/"$//; s/&quot;/"/g; s/&amp;/\&/g; s/&lt;/</g; s/&gt;/>/g')
[ -n "$check" ] || { echo "no result from the page (see $out/chromium.log)"; exit 1; }
echo "seen: $check"

fails=0
want() { # want DESCRIPTION JSON-FRAGMENT
  case "$check" in *"$2"*) ;; *) echo "FAIL: $1 (no $2)"; fails=$((fails + 1)) ;; esac
}
want "counts at the top" '"counts":"1 FAIL 1 PASS"'
want "the failing step, visible" '"step":"step 5 (await): command id 5 (flush) had no result within 300 ms'
want "the cause row is the held PONG" 'PONG [hold-pong: hold] held'
want "the cause is below the step" '"causeBelowStep":true'
want "the whole timeline is folded" '"timelineFolded":true'
want "... and opens with a click" '"timelineOpens":true'
want "the 200 PUBs, MSGs and msg events collapse" '"foldedAtLeast400":true'
want "the cause is marked in the timeline" '"timelineCause":true'
want "the passing run is listed" '"passShown":true'
want "the FAIL filter hides it" '"passShownWithFailFilter":false'
want "the FAIL filter keeps the failure" '"failShownWithFailFilter":true'
case "$check" in *'"cause":"(not visible)"'*) echo "FAIL: the cause row is not visible"; fails=$((fails + 1)) ;; esac

# The report as it is (no script), as a picture.
browse --screenshot="$out/report.png" "file://$out/report.html" >/dev/null
size=$(stat -c %s "$out/report.png" 2>/dev/null || echo 0)
[ "$size" -gt 20000 ] || { echo "FAIL: screenshot $out/report.png is $size bytes"; fails=$((fails + 1)); }
echo "$fails failure(s); screenshot: $out/report.png"
[ $fails -eq 0 ]
