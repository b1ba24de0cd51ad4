<?php
// A MOOC backend's side of decode-runner, in plain PHP 8 (no library): sign a launch token and
// verify a webhook. Copy what you need.
//
//   php mooc_backend.php token SUB             prints a launch token
//   php mooc_backend.php verify < body.json    checks a webhook (env DECODE_SIGNATURE)
//
// Environment: PLATFORM_ID, PLATFORM_SECRET (HS256), WEBHOOK_SECRET, AUDIENCE (default
// "decode-runner").

function base64url(string $data): string
{
    return rtrim(strtr(base64_encode($data), '+/', '-_'), '=');
}

/** One token per page view: 5 minutes of validity, a fresh jti (each token works once). */
function decode_launch_token(string $platformId, string $secret, string $sub, array $extra = []): string
{
    $now = time();
    $claims = array_merge([
        'iss' => $platformId,
        'sub' => $sub,              // your user id: stable, never an e-mail address
        'aud' => getenv('AUDIENCE') ?: 'decode-runner',
        'iat' => $now,
        'exp' => $now + 300,
        'jti' => bin2hex(random_bytes(16)),
        'locale' => 'fr',
    ], $extra);
    $header = base64url(json_encode(['alg' => 'HS256', 'typ' => 'JWT']));
    $payload = base64url(json_encode($claims, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE));
    $signature = base64url(hash_hmac('sha256', "$header.$payload", $secret, true));
    return "$header.$payload.$signature";
}

/** Decode-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>." . raw body>. */
function decode_verify_webhook(string $secret, string $signatureHeader, string $body, int $toleranceS = 300): bool
{
    $fields = [];
    foreach (explode(',', $signatureHeader) as $item) {
        [$key, $value] = array_pad(explode('=', $item, 2), 2, '');
        $fields[$key] = $value;
    }
    if (!isset($fields['t'], $fields['v1']) || !ctype_digit($fields['t'])) {
        return false;
    }
    if (abs(time() - (int) $fields['t']) > $toleranceS) {
        return false;               // too old: a replayed delivery
    }
    $expected = hash_hmac('sha256', $fields['t'] . '.' . $body, $secret);
    return hash_equals($expected, $fields['v1']);
}

if (PHP_SAPI === 'cli' && realpath($argv[0]) === __FILE__) {
    $command = $argv[1] ?? '';
    if ($command === 'token') {
        echo decode_launch_token(getenv('PLATFORM_ID'), getenv('PLATFORM_SECRET'), $argv[2]), "\n";
    } elseif ($command === 'verify') {
        // In a web endpoint: $body = file_get_contents('php://input');
        //                    $header = $_SERVER['HTTP_DECODE_SIGNATURE'] ?? '';
        $ok = decode_verify_webhook(getenv('WEBHOOK_SECRET'), getenv('DECODE_SIGNATURE'), stream_get_contents(STDIN));
        echo $ok ? "ok\n" : "refused\n";
        exit($ok ? 0 : 1);
    } else {
        fwrite(STDERR, "usage: php mooc_backend.php token SUB | verify < body\n");
        exit(2);
    }
}
