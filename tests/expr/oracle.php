<?php
// Checks tests/expr/cases.txt against real Twig 3 (the spec's oracle).
//
// Not run in CI. Locally:
//   apt-get install -y php-cli php-twig php-mbstring
//   php tests/expr/oracle.php            # prints mismatches and a summary
//   php tests/expr/oracle.php -v         # also prints every case
// Cases marked `!` (clock, randomness, fuel) and `W` (non-Twig operators) are
// skipped; cases marked `~` are deliberate differences and reported apart.
// Exit status 1 when a case that should agree with Twig does not.

require_once '/usr/share/php/Twig/autoload.php';

$verbose = in_array('-v', $argv, true);
$file = __DIR__ . '/cases.txt';
$ctx = [];
$tz = 'UTC';
$fail = 0; $pass = 0; $skip = 0; $known = 0;

function same($a, $b): bool {
    if ((is_int($a) || is_float($a)) && (is_int($b) || is_float($b))) {
        return (float) $a === (float) $b;
    }
    if (is_array($a) && is_array($b)) {
        if (array_keys($a) !== array_keys($b)) return false;
        foreach ($a as $k => $v) { if (!same($v, $b[$k])) return false; }
        return true;
    }
    return $a === $b;
}

foreach (file($file, FILE_IGNORE_NEW_LINES) as $no => $line) {
    $lineNo = $no + 1;
    if ($line === '' || $line[0] === '#') continue;
    if (str_starts_with($line, '@ctx ')) { $ctx = json_decode(substr($line, 5), true); continue; }
    if (str_starts_with($line, '@tz ')) { $tz = trim(substr($line, 4)); continue; }
    if (!preg_match('/^([TEW])([!~]?) (.*?) => (.*)$/s', $line, $m)
        && !preg_match('/^([TEW])([!~]?) ?()=> (.*)$/s', $line, $m)) {
        echo "line $lineNo: cannot read case\n"; $fail++; continue;
    }
    [, $kind, $flag, $src, $want] = $m;
    if ($flag === '!' || $kind === 'W') { $skip++; continue; }
    $src = str_replace('⏎', "\n", $src);
    $want = str_replace('⏎', "\n", $want);
    $env = new \Twig\Environment(new \Twig\Loader\ArrayLoader([]), ['autoescape' => false]);
    date_default_timezone_set($tz);
    $env->getExtension(\Twig\Extension\CoreExtension::class)->setTimezone($tz);
    $tpl = $kind === 'E' ? '{{ (' . $src . ')|json_encode }}' : $src;
    $got = null; $error = null;
    set_error_handler(function () { return true; }); // PHP warnings are not errors in Twig
    try { $got = $env->createTemplate($tpl)->render($ctx); }
    catch (\Throwable $e) { $error = get_class($e) . ': ' . $e->getMessage(); }
    restore_error_handler();
    $wantsError = str_starts_with($want, 'error:') || str_starts_with($want, 'compile error') || $want === 'out of fuel';
    if ($wantsError) {
        $ok = $error !== null;
    } elseif ($error !== null) {
        $ok = false;
    } elseif ($kind === 'E') {
        $ok = same(json_decode($got, true), json_decode($want, true)) && json_decode($want) !== null || ($want === 'null' && $got === 'null');
    } else {
        $ok = $got === $want;
    }
    $shown = $error ?? json_encode($got);
    if ($flag === '~') {
        $known++;
        echo "line $lineNo: deliberate difference: $src\n  steptalk: $want\n  twig:     $shown\n";
        continue;
    }
    if ($ok) { $pass++; if ($verbose) echo "ok   line $lineNo: $src => $shown\n"; continue; }
    $fail++;
    echo "FAIL line $lineNo: $src\n  want: $want\n  twig: $shown\n";
}
echo "\n$pass agree, $fail disagree, $known deliberate differences, $skip skipped\n";
exit($fail > 0 ? 1 : 0);
