
use builtin;
use str;

set edit:completion:arg-completer[molt] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'molt'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'molt'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand gateway 'Run the gateway daemon: web chat, model providers, the embedded store'
            cand pair 'Approve or refuse devices and chat-platform users'
            cand skills 'The assistant''s skills: list, add, remove, enable, disable'
            cand init 'Set up a deployment: ask what it needs, keep its secrets, render the deploy folder'
            cand deploy 'Deploy to Cloudflare: bucket, credentials, Access, Worker, secrets, webhooks; prints the URL'
            cand secrets 'The deployment''s secrets: list, get, set, push'
            cand token 'The gateway token: rotate'
            cand doctor 'Check the whole chain: token, account, bucket, Access, secrets, Worker, channels, model'
            cand tail 'Follow the Worker''s live logs (or the gateway''s, with `--gateway`)'
            cand completions 'Print shell completions'
            cand man 'Print the man page (roff)'
            cand chat 'Talk to the assistant and answer pairing requests in a terminal UI'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'molt;gateway'= {
            cand --port 'Port to listen on [env: MOLT_PORT] [default: 18789]'
            cand --bind 'Address to bind [env: MOLT_BIND] [default: 127.0.0.1]'
            cand --data-dir 'Where the store, token and workspace live [env: MOLT_DATA_DIR]'
            cand --log-format '`text` or `json` [env: MOLT_LOG_FORMAT]'
            cand --config 'Settings file [env: MOLT_CONFIG] [default: ./molt.toml when present]'
            cand --print-config 'Print the resolved settings (secrets redacted) and where each came from, then exit'
            cand --insecure 'Allow `DEV_MODE` on an address other machines can reach (device approval and admin sign-in are then off for everyone who has the gateway token)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand backup 'Ship every change and store a snapshot in the bucket now'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'molt;gateway;backup'= {
            cand --url 'The running gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port>]'
            cand --port 'Port of the running gateway [env: MOLT_PORT] [default: 18789]'
            cand --data-dir 'Where the store and token live [env: MOLT_DATA_DIR]'
            cand --config 'Settings file [env: MOLT_CONFIG]'
            cand --offline 'No gateway is running: open the store here, snapshot it into the bucket, and stop'
            cand --force 'With `--offline`: take the bucket over even if a gateway still holds it (that gateway is fenced and stops)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;gateway;help'= {
            cand backup 'Ship every change and store a snapshot in the bucket now'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'molt;gateway;help;backup'= {
        }
        &'molt;gateway;help;help'= {
        }
        &'molt;pair'= {
            cand --url 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]'
            cand --data-dir 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]'
            cand --json 'Print the API''s JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
            cand list 'Devices waiting for approval and devices already paired'
            cand approve 'Let a waiting device in (a unique prefix of its request id is enough)'
            cand reject 'Turn a waiting device away'
            cand revoke 'Unpair a device: its tokens stop working and its connections close at once'
            cand rotate 'Give a device a new token (shown once); the old one stops working'
            cand code 'Chat-platform pairing codes'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'molt;pair;list'= {
            cand --url 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]'
            cand --data-dir 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]'
            cand --json 'Print the API''s JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;pair;approve'= {
            cand --url 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]'
            cand --data-dir 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]'
            cand --json 'Print the API''s JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;pair;reject'= {
            cand --url 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]'
            cand --data-dir 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]'
            cand --json 'Print the API''s JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;pair;revoke'= {
            cand --url 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]'
            cand --data-dir 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]'
            cand --json 'Print the API''s JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;pair;rotate'= {
            cand --url 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]'
            cand --data-dir 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]'
            cand --json 'Print the API''s JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;pair;code'= {
            cand --url 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]'
            cand --data-dir 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]'
            cand --json 'Print the API''s JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
            cand list 'Codes waiting for approval'
            cand approve 'Allow the sender of a code to talk to the assistant'
            cand reject 'Turn the sender of a code away'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'molt;pair;code;list'= {
            cand --url 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]'
            cand --data-dir 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]'
            cand --json 'Print the API''s JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;pair;code;approve'= {
            cand --url 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]'
            cand --data-dir 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]'
            cand --json 'Print the API''s JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;pair;code;reject'= {
            cand --url 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]'
            cand --data-dir 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]'
            cand --json 'Print the API''s JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;pair;code;help'= {
            cand list 'Codes waiting for approval'
            cand approve 'Allow the sender of a code to talk to the assistant'
            cand reject 'Turn the sender of a code away'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'molt;pair;code;help;list'= {
        }
        &'molt;pair;code;help;approve'= {
        }
        &'molt;pair;code;help;reject'= {
        }
        &'molt;pair;code;help;help'= {
        }
        &'molt;pair;help'= {
            cand list 'Devices waiting for approval and devices already paired'
            cand approve 'Let a waiting device in (a unique prefix of its request id is enough)'
            cand reject 'Turn a waiting device away'
            cand revoke 'Unpair a device: its tokens stop working and its connections close at once'
            cand rotate 'Give a device a new token (shown once); the old one stops working'
            cand code 'Chat-platform pairing codes'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'molt;pair;help;list'= {
        }
        &'molt;pair;help;approve'= {
        }
        &'molt;pair;help;reject'= {
        }
        &'molt;pair;help;revoke'= {
        }
        &'molt;pair;help;rotate'= {
        }
        &'molt;pair;help;code'= {
            cand list 'Codes waiting for approval'
            cand approve 'Allow the sender of a code to talk to the assistant'
            cand reject 'Turn the sender of a code away'
        }
        &'molt;pair;help;code;list'= {
        }
        &'molt;pair;help;code;approve'= {
        }
        &'molt;pair;help;code;reject'= {
        }
        &'molt;pair;help;help'= {
        }
        &'molt;skills'= {
            cand --url 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]'
            cand --data-dir 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]'
            cand --json 'Print the API''s JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
            cand list 'The installed skills: on or off, and whether the model is offered them (and why not)'
            cand add 'Install a skill from its folder (named as the skill) or a `.zip` of it'
            cand remove 'Remove an installed skill and its files'
            cand enable 'Offer an installed skill to the model again'
            cand disable 'Stop offering a skill to the model; it stays installed'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'molt;skills;list'= {
            cand --url 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]'
            cand --data-dir 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]'
            cand --json 'Print the API''s JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;skills;add'= {
            cand --url 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]'
            cand --data-dir 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]'
            cand --replace 'Take the place of an installed skill of the same name'
            cand --json 'Print the API''s JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;skills;remove'= {
            cand --url 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]'
            cand --data-dir 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]'
            cand --json 'Print the API''s JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;skills;enable'= {
            cand --url 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]'
            cand --data-dir 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]'
            cand --json 'Print the API''s JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;skills;disable'= {
            cand --url 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]'
            cand --data-dir 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]'
            cand --json 'Print the API''s JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;skills;help'= {
            cand list 'The installed skills: on or off, and whether the model is offered them (and why not)'
            cand add 'Install a skill from its folder (named as the skill) or a `.zip` of it'
            cand remove 'Remove an installed skill and its files'
            cand enable 'Offer an installed skill to the model again'
            cand disable 'Stop offering a skill to the model; it stays installed'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'molt;skills;help;list'= {
        }
        &'molt;skills;help;add'= {
        }
        &'molt;skills;help;remove'= {
        }
        &'molt;skills;help;enable'= {
        }
        &'molt;skills;help;disable'= {
        }
        &'molt;skills;help;help'= {
        }
        &'molt;init'= {
            cand --dir 'Where the deploy folder goes (`molt.toml`, `wrangler.toml`, the Worker)'
            cand --account-id 'Cloudflare account id (the API token comes from `CLOUDFLARE_API_TOKEN` or a prompt)'
            cand --worker-name 'Worker name; the assistant lives at `https://NAME.<subdomain>.workers.dev` [default: molt]'
            cand --provider 'Model provider: `anthropic`, `ai-gateway` or `openai` (its key from the environment)'
            cand --model 'Model name [default: the provider''s]'
            cand --openai-base-url 'OpenAI-compatible base URL (with `--provider openai`)'
            cand --ai-gateway-id 'Cloudflare AI Gateway id (with `--provider ai-gateway`)'
            cand --channels 'Channels, comma-separated: `telegram`, `discord`, `slack`, or `none`'
            cand --telegram-mode '`webhook` (recommended when the container sleeps) or `polling`'
            cand --slack-mode '`events` (recommended when the container sleeps) or `socket`'
            cand --telegram-dm-policy 'Telegram DM policy: `pairing`, `allowlist`, `open` or `disabled` [default: pairing]'
            cand --discord-dm-policy 'Discord DM policy [default: pairing]'
            cand --slack-dm-policy 'Slack DM policy [default: pairing]'
            cand --sleep-after 'Idle time before the container sleeps (`10m`, `1h`) or `never` [default: 10m]'
            cand --instance-type 'Container instance type: `lite`, `basic`, `standard-1`… [default: lite]'
            cand --bucket 'R2 bucket for the gateway''s data [default: WORKER-data]'
            cand --access-team-domain 'Cloudflare Access team domain (`<team>.cloudflareaccess.com`) guarding the admin paths'
            cand --access-emails 'Emails Access lets in, comma-separated'
            cand --image 'A registry image to run instead of building the deploy folder''s `Dockerfile`'
            cand --access-whole-host 'Put the whole host behind Access, not only the admin paths (channel webhooks stay open)'
            cand --non-interactive 'Never prompt: fail at once, naming every missing value'
            cand --no-verify 'Do not check the API token with Cloudflare (offline)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;deploy'= {
            cand --dir 'The deploy folder `molt init` wrote'
            cand --skip-wrangler 'Do every step but `wrangler deploy` (when the Worker is uploaded some other way)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;secrets'= {
            cand --dir 'The deploy folder `molt init` wrote'
            cand -h 'Print help'
            cand --help 'Print help'
            cand list 'Names of the local secrets, and whether the Worker has each (values are never shown)'
            cand get 'Print one secret''s value on stdout'
            cand set 'Store a secret locally, its value read from stdin (or a hidden prompt)'
            cand push 'Push every local secret the Worker lacks or that changed (`--all`: every one)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'molt;secrets;list'= {
            cand --dir 'The deploy folder `molt init` wrote'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;secrets;get'= {
            cand --dir 'The deploy folder `molt init` wrote'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;secrets;set'= {
            cand --dir 'The deploy folder `molt init` wrote'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;secrets;push'= {
            cand --dir 'The deploy folder `molt init` wrote'
            cand --all 'all'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;secrets;help'= {
            cand list 'Names of the local secrets, and whether the Worker has each (values are never shown)'
            cand get 'Print one secret''s value on stdout'
            cand set 'Store a secret locally, its value read from stdin (or a hidden prompt)'
            cand push 'Push every local secret the Worker lacks or that changed (`--all`: every one)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'molt;secrets;help;list'= {
        }
        &'molt;secrets;help;get'= {
        }
        &'molt;secrets;help;set'= {
        }
        &'molt;secrets;help;push'= {
        }
        &'molt;secrets;help;help'= {
        }
        &'molt;token'= {
            cand --dir 'dir'
            cand -h 'Print help'
            cand --help 'Print help'
            cand rotate 'Generate a new gateway token and push it to the Worker'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'molt;token;rotate'= {
            cand --dir 'dir'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;token;help'= {
            cand rotate 'Generate a new gateway token and push it to the Worker'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'molt;token;help;rotate'= {
        }
        &'molt;token;help;help'= {
        }
        &'molt;doctor'= {
            cand --dir 'The deploy folder `molt init` wrote'
            cand --url 'The Worker''s URL [env: MOLT_URL] [default: `https://WORKER.SUBDOMAIN.workers.dev`]'
            cand --json 'One JSON object with every check'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;tail'= {
            cand --dir 'The deploy folder `molt init` wrote'
            cand --status 'Only requests with this outcome: `ok`, `error` or `canceled` (repeatable)'
            cand --method 'Only requests with this HTTP method (repeatable)'
            cand --search 'Only events whose logs, exceptions or URL contain this text'
            cand --url 'With `--gateway`: the gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]'
            cand --json 'One JSON object per line instead of readable lines'
            cand --gateway 'Follow the gateway daemon''s own logs (`logs.tail`) instead of the Worker''s'
            cand --no-follow 'With `--gateway`: print the recent lines and exit instead of following'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;completions'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;man'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;chat'= {
            cand --url 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]'
            cand --data-dir 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'molt;help'= {
            cand gateway 'Run the gateway daemon: web chat, model providers, the embedded store'
            cand pair 'Approve or refuse devices and chat-platform users'
            cand skills 'The assistant''s skills: list, add, remove, enable, disable'
            cand init 'Set up a deployment: ask what it needs, keep its secrets, render the deploy folder'
            cand deploy 'Deploy to Cloudflare: bucket, credentials, Access, Worker, secrets, webhooks; prints the URL'
            cand secrets 'The deployment''s secrets: list, get, set, push'
            cand token 'The gateway token: rotate'
            cand doctor 'Check the whole chain: token, account, bucket, Access, secrets, Worker, channels, model'
            cand tail 'Follow the Worker''s live logs (or the gateway''s, with `--gateway`)'
            cand completions 'Print shell completions'
            cand man 'Print the man page (roff)'
            cand chat 'Talk to the assistant and answer pairing requests in a terminal UI'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'molt;help;gateway'= {
            cand backup 'Ship every change and store a snapshot in the bucket now'
        }
        &'molt;help;gateway;backup'= {
        }
        &'molt;help;pair'= {
            cand list 'Devices waiting for approval and devices already paired'
            cand approve 'Let a waiting device in (a unique prefix of its request id is enough)'
            cand reject 'Turn a waiting device away'
            cand revoke 'Unpair a device: its tokens stop working and its connections close at once'
            cand rotate 'Give a device a new token (shown once); the old one stops working'
            cand code 'Chat-platform pairing codes'
        }
        &'molt;help;pair;list'= {
        }
        &'molt;help;pair;approve'= {
        }
        &'molt;help;pair;reject'= {
        }
        &'molt;help;pair;revoke'= {
        }
        &'molt;help;pair;rotate'= {
        }
        &'molt;help;pair;code'= {
            cand list 'Codes waiting for approval'
            cand approve 'Allow the sender of a code to talk to the assistant'
            cand reject 'Turn the sender of a code away'
        }
        &'molt;help;pair;code;list'= {
        }
        &'molt;help;pair;code;approve'= {
        }
        &'molt;help;pair;code;reject'= {
        }
        &'molt;help;skills'= {
            cand list 'The installed skills: on or off, and whether the model is offered them (and why not)'
            cand add 'Install a skill from its folder (named as the skill) or a `.zip` of it'
            cand remove 'Remove an installed skill and its files'
            cand enable 'Offer an installed skill to the model again'
            cand disable 'Stop offering a skill to the model; it stays installed'
        }
        &'molt;help;skills;list'= {
        }
        &'molt;help;skills;add'= {
        }
        &'molt;help;skills;remove'= {
        }
        &'molt;help;skills;enable'= {
        }
        &'molt;help;skills;disable'= {
        }
        &'molt;help;init'= {
        }
        &'molt;help;deploy'= {
        }
        &'molt;help;secrets'= {
            cand list 'Names of the local secrets, and whether the Worker has each (values are never shown)'
            cand get 'Print one secret''s value on stdout'
            cand set 'Store a secret locally, its value read from stdin (or a hidden prompt)'
            cand push 'Push every local secret the Worker lacks or that changed (`--all`: every one)'
        }
        &'molt;help;secrets;list'= {
        }
        &'molt;help;secrets;get'= {
        }
        &'molt;help;secrets;set'= {
        }
        &'molt;help;secrets;push'= {
        }
        &'molt;help;token'= {
            cand rotate 'Generate a new gateway token and push it to the Worker'
        }
        &'molt;help;token;rotate'= {
        }
        &'molt;help;doctor'= {
        }
        &'molt;help;tail'= {
        }
        &'molt;help;completions'= {
        }
        &'molt;help;man'= {
        }
        &'molt;help;chat'= {
        }
        &'molt;help;help'= {
        }
    ]
    $completions[$command]
}
