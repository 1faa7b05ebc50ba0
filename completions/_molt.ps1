
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'molt' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'molt'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'molt' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('gateway', 'gateway', [CompletionResultType]::ParameterValue, 'Run the gateway daemon: web chat, model providers, the embedded store')
            [CompletionResult]::new('pair', 'pair', [CompletionResultType]::ParameterValue, 'Approve or refuse devices and chat-platform users')
            [CompletionResult]::new('skills', 'skills', [CompletionResultType]::ParameterValue, 'The assistant''s skills: list, add, remove, enable, disable')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Set up a deployment: ask what it needs, keep its secrets, render the deploy folder')
            [CompletionResult]::new('deploy', 'deploy', [CompletionResultType]::ParameterValue, 'Deploy to Cloudflare: bucket, credentials, Access, Worker, secrets, webhooks; prints the URL')
            [CompletionResult]::new('secrets', 'secrets', [CompletionResultType]::ParameterValue, 'The deployment''s secrets: list, get, set, push')
            [CompletionResult]::new('token', 'token', [CompletionResultType]::ParameterValue, 'The gateway token: rotate')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check the whole chain: token, account, bucket, Access, secrets, Worker, channels, model')
            [CompletionResult]::new('tail', 'tail', [CompletionResultType]::ParameterValue, 'Follow the Worker''s live logs (or the gateway''s, with `--gateway`)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff)')
            [CompletionResult]::new('chat', 'chat', [CompletionResultType]::ParameterValue, 'Talk to the assistant and answer pairing requests in a terminal UI')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'molt;gateway' {
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port to listen on [env: MOLT_PORT] [default: 18789]')
            [CompletionResult]::new('--bind', '--bind', [CompletionResultType]::ParameterName, 'Address to bind [env: MOLT_BIND] [default: 127.0.0.1]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Where the store, token and workspace live [env: MOLT_DATA_DIR]')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, '`text` or `json` [env: MOLT_LOG_FORMAT]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Settings file [env: MOLT_CONFIG] [default: ./molt.toml when present]')
            [CompletionResult]::new('--print-config', '--print-config', [CompletionResultType]::ParameterName, 'Print the resolved settings (secrets redacted) and where each came from, then exit')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Allow `DEV_MODE` on an address other machines can reach (device approval and admin sign-in are then off for everyone who has the gateway token)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('backup', 'backup', [CompletionResultType]::ParameterValue, 'Ship every change and store a snapshot in the bucket now')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'molt;gateway;backup' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'The running gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port>]')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port of the running gateway [env: MOLT_PORT] [default: 18789]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Where the store and token live [env: MOLT_DATA_DIR]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Settings file [env: MOLT_CONFIG]')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'No gateway is running: open the store here, snapshot it into the bucket, and stop')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'With `--offline`: take the bucket over even if a gateway still holds it (that gateway is fenced and stops)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;gateway;help' {
            [CompletionResult]::new('backup', 'backup', [CompletionResultType]::ParameterValue, 'Ship every change and store a snapshot in the bucket now')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'molt;gateway;help;backup' {
            break
        }
        'molt;gateway;help;help' {
            break
        }
        'molt;pair' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the API''s JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Devices waiting for approval and devices already paired')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Let a waiting device in (a unique prefix of its request id is enough)')
            [CompletionResult]::new('reject', 'reject', [CompletionResultType]::ParameterValue, 'Turn a waiting device away')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Unpair a device: its tokens stop working and its connections close at once')
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Give a device a new token (shown once); the old one stops working')
            [CompletionResult]::new('code', 'code', [CompletionResultType]::ParameterValue, 'Chat-platform pairing codes')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'molt;pair;list' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the API''s JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;pair;approve' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the API''s JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;pair;reject' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the API''s JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;pair;revoke' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the API''s JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;pair;rotate' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the API''s JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;pair;code' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the API''s JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Codes waiting for approval')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Allow the sender of a code to talk to the assistant')
            [CompletionResult]::new('reject', 'reject', [CompletionResultType]::ParameterValue, 'Turn the sender of a code away')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'molt;pair;code;list' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the API''s JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;pair;code;approve' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the API''s JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;pair;code;reject' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the API''s JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;pair;code;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Codes waiting for approval')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Allow the sender of a code to talk to the assistant')
            [CompletionResult]::new('reject', 'reject', [CompletionResultType]::ParameterValue, 'Turn the sender of a code away')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'molt;pair;code;help;list' {
            break
        }
        'molt;pair;code;help;approve' {
            break
        }
        'molt;pair;code;help;reject' {
            break
        }
        'molt;pair;code;help;help' {
            break
        }
        'molt;pair;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Devices waiting for approval and devices already paired')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Let a waiting device in (a unique prefix of its request id is enough)')
            [CompletionResult]::new('reject', 'reject', [CompletionResultType]::ParameterValue, 'Turn a waiting device away')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Unpair a device: its tokens stop working and its connections close at once')
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Give a device a new token (shown once); the old one stops working')
            [CompletionResult]::new('code', 'code', [CompletionResultType]::ParameterValue, 'Chat-platform pairing codes')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'molt;pair;help;list' {
            break
        }
        'molt;pair;help;approve' {
            break
        }
        'molt;pair;help;reject' {
            break
        }
        'molt;pair;help;revoke' {
            break
        }
        'molt;pair;help;rotate' {
            break
        }
        'molt;pair;help;code' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Codes waiting for approval')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Allow the sender of a code to talk to the assistant')
            [CompletionResult]::new('reject', 'reject', [CompletionResultType]::ParameterValue, 'Turn the sender of a code away')
            break
        }
        'molt;pair;help;code;list' {
            break
        }
        'molt;pair;help;code;approve' {
            break
        }
        'molt;pair;help;code;reject' {
            break
        }
        'molt;pair;help;help' {
            break
        }
        'molt;skills' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the API''s JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The installed skills: on or off, and whether the model is offered them (and why not)')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Install a skill from its folder (named as the skill) or a `.zip` of it')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove an installed skill and its files')
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Offer an installed skill to the model again')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Stop offering a skill to the model; it stays installed')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'molt;skills;list' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the API''s JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;skills;add' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]')
            [CompletionResult]::new('--replace', '--replace', [CompletionResultType]::ParameterName, 'Take the place of an installed skill of the same name')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the API''s JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;skills;remove' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the API''s JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;skills;enable' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the API''s JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;skills;disable' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the API''s JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;skills;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The installed skills: on or off, and whether the model is offered them (and why not)')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Install a skill from its folder (named as the skill) or a `.zip` of it')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove an installed skill and its files')
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Offer an installed skill to the model again')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Stop offering a skill to the model; it stays installed')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'molt;skills;help;list' {
            break
        }
        'molt;skills;help;add' {
            break
        }
        'molt;skills;help;remove' {
            break
        }
        'molt;skills;help;enable' {
            break
        }
        'molt;skills;help;disable' {
            break
        }
        'molt;skills;help;help' {
            break
        }
        'molt;init' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Where the deploy folder goes (`molt.toml`, `wrangler.toml`, the Worker)')
            [CompletionResult]::new('--account-id', '--account-id', [CompletionResultType]::ParameterName, 'Cloudflare account id (the API token comes from `CLOUDFLARE_API_TOKEN` or a prompt)')
            [CompletionResult]::new('--worker-name', '--worker-name', [CompletionResultType]::ParameterName, 'Worker name; the assistant lives at `https://NAME.<subdomain>.workers.dev` [default: molt]')
            [CompletionResult]::new('--provider', '--provider', [CompletionResultType]::ParameterName, 'Model provider: `anthropic`, `ai-gateway` or `openai` (its key from the environment)')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Model name [default: the provider''s]')
            [CompletionResult]::new('--openai-base-url', '--openai-base-url', [CompletionResultType]::ParameterName, 'OpenAI-compatible base URL (with `--provider openai`)')
            [CompletionResult]::new('--ai-gateway-id', '--ai-gateway-id', [CompletionResultType]::ParameterName, 'Cloudflare AI Gateway id (with `--provider ai-gateway`)')
            [CompletionResult]::new('--channels', '--channels', [CompletionResultType]::ParameterName, 'Channels, comma-separated: `telegram`, `discord`, `slack`, or `none`')
            [CompletionResult]::new('--telegram-mode', '--telegram-mode', [CompletionResultType]::ParameterName, '`webhook` (recommended when the container sleeps) or `polling`')
            [CompletionResult]::new('--slack-mode', '--slack-mode', [CompletionResultType]::ParameterName, '`events` (recommended when the container sleeps) or `socket`')
            [CompletionResult]::new('--telegram-dm-policy', '--telegram-dm-policy', [CompletionResultType]::ParameterName, 'Telegram DM policy: `pairing`, `allowlist`, `open` or `disabled` [default: pairing]')
            [CompletionResult]::new('--discord-dm-policy', '--discord-dm-policy', [CompletionResultType]::ParameterName, 'Discord DM policy [default: pairing]')
            [CompletionResult]::new('--slack-dm-policy', '--slack-dm-policy', [CompletionResultType]::ParameterName, 'Slack DM policy [default: pairing]')
            [CompletionResult]::new('--sleep-after', '--sleep-after', [CompletionResultType]::ParameterName, 'Idle time before the container sleeps (`10m`, `1h`) or `never` [default: 10m]')
            [CompletionResult]::new('--instance-type', '--instance-type', [CompletionResultType]::ParameterName, 'Container instance type: `lite`, `basic`, `standard-1`… [default: lite]')
            [CompletionResult]::new('--bucket', '--bucket', [CompletionResultType]::ParameterName, 'R2 bucket for the gateway''s data [default: WORKER-data]')
            [CompletionResult]::new('--access-team-domain', '--access-team-domain', [CompletionResultType]::ParameterName, 'Cloudflare Access team domain (`<team>.cloudflareaccess.com`) guarding the admin paths')
            [CompletionResult]::new('--access-emails', '--access-emails', [CompletionResultType]::ParameterName, 'Emails Access lets in, comma-separated')
            [CompletionResult]::new('--image', '--image', [CompletionResultType]::ParameterName, 'A registry image to run instead of building the deploy folder''s `Dockerfile`')
            [CompletionResult]::new('--access-whole-host', '--access-whole-host', [CompletionResultType]::ParameterName, 'Put the whole host behind Access, not only the admin paths (channel webhooks stay open)')
            [CompletionResult]::new('--non-interactive', '--non-interactive', [CompletionResultType]::ParameterName, 'Never prompt: fail at once, naming every missing value')
            [CompletionResult]::new('--no-verify', '--no-verify', [CompletionResultType]::ParameterName, 'Do not check the API token with Cloudflare (offline)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;deploy' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The deploy folder `molt init` wrote')
            [CompletionResult]::new('--skip-wrangler', '--skip-wrangler', [CompletionResultType]::ParameterName, 'Do every step but `wrangler deploy` (when the Worker is uploaded some other way)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;secrets' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The deploy folder `molt init` wrote')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Names of the local secrets, and whether the Worker has each (values are never shown)')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print one secret''s value on stdout')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Store a secret locally, its value read from stdin (or a hidden prompt)')
            [CompletionResult]::new('push', 'push', [CompletionResultType]::ParameterValue, 'Push every local secret the Worker lacks or that changed (`--all`: every one)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'molt;secrets;list' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The deploy folder `molt init` wrote')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;secrets;get' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The deploy folder `molt init` wrote')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;secrets;set' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The deploy folder `molt init` wrote')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;secrets;push' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The deploy folder `molt init` wrote')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'all')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;secrets;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Names of the local secrets, and whether the Worker has each (values are never shown)')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print one secret''s value on stdout')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Store a secret locally, its value read from stdin (or a hidden prompt)')
            [CompletionResult]::new('push', 'push', [CompletionResultType]::ParameterValue, 'Push every local secret the Worker lacks or that changed (`--all`: every one)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'molt;secrets;help;list' {
            break
        }
        'molt;secrets;help;get' {
            break
        }
        'molt;secrets;help;set' {
            break
        }
        'molt;secrets;help;push' {
            break
        }
        'molt;secrets;help;help' {
            break
        }
        'molt;token' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'dir')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Generate a new gateway token and push it to the Worker')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'molt;token;rotate' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'dir')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;token;help' {
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Generate a new gateway token and push it to the Worker')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'molt;token;help;rotate' {
            break
        }
        'molt;token;help;help' {
            break
        }
        'molt;doctor' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The deploy folder `molt init` wrote')
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'The Worker''s URL [env: MOLT_URL] [default: `https://WORKER.SUBDOMAIN.workers.dev`]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'One JSON object with every check')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;tail' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The deploy folder `molt init` wrote')
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'Only requests with this outcome: `ok`, `error` or `canceled` (repeatable)')
            [CompletionResult]::new('--method', '--method', [CompletionResultType]::ParameterName, 'Only requests with this HTTP method (repeatable)')
            [CompletionResult]::new('--search', '--search', [CompletionResultType]::ParameterName, 'Only events whose logs, exceptions or URL contain this text')
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'With `--gateway`: the gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'One JSON object per line instead of readable lines')
            [CompletionResult]::new('--gateway', '--gateway', [CompletionResultType]::ParameterName, 'Follow the gateway daemon''s own logs (`logs.tail`) instead of the Worker''s')
            [CompletionResult]::new('--no-follow', '--no-follow', [CompletionResultType]::ParameterName, 'With `--gateway`: print the recent lines and exit instead of following')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;completions' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;man' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;chat' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'The gateway''s URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'The local gateway''s data directory, where its token is kept [env: MOLT_DATA_DIR]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'molt;help' {
            [CompletionResult]::new('gateway', 'gateway', [CompletionResultType]::ParameterValue, 'Run the gateway daemon: web chat, model providers, the embedded store')
            [CompletionResult]::new('pair', 'pair', [CompletionResultType]::ParameterValue, 'Approve or refuse devices and chat-platform users')
            [CompletionResult]::new('skills', 'skills', [CompletionResultType]::ParameterValue, 'The assistant''s skills: list, add, remove, enable, disable')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Set up a deployment: ask what it needs, keep its secrets, render the deploy folder')
            [CompletionResult]::new('deploy', 'deploy', [CompletionResultType]::ParameterValue, 'Deploy to Cloudflare: bucket, credentials, Access, Worker, secrets, webhooks; prints the URL')
            [CompletionResult]::new('secrets', 'secrets', [CompletionResultType]::ParameterValue, 'The deployment''s secrets: list, get, set, push')
            [CompletionResult]::new('token', 'token', [CompletionResultType]::ParameterValue, 'The gateway token: rotate')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check the whole chain: token, account, bucket, Access, secrets, Worker, channels, model')
            [CompletionResult]::new('tail', 'tail', [CompletionResultType]::ParameterValue, 'Follow the Worker''s live logs (or the gateway''s, with `--gateway`)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff)')
            [CompletionResult]::new('chat', 'chat', [CompletionResultType]::ParameterValue, 'Talk to the assistant and answer pairing requests in a terminal UI')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'molt;help;gateway' {
            [CompletionResult]::new('backup', 'backup', [CompletionResultType]::ParameterValue, 'Ship every change and store a snapshot in the bucket now')
            break
        }
        'molt;help;gateway;backup' {
            break
        }
        'molt;help;pair' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Devices waiting for approval and devices already paired')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Let a waiting device in (a unique prefix of its request id is enough)')
            [CompletionResult]::new('reject', 'reject', [CompletionResultType]::ParameterValue, 'Turn a waiting device away')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Unpair a device: its tokens stop working and its connections close at once')
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Give a device a new token (shown once); the old one stops working')
            [CompletionResult]::new('code', 'code', [CompletionResultType]::ParameterValue, 'Chat-platform pairing codes')
            break
        }
        'molt;help;pair;list' {
            break
        }
        'molt;help;pair;approve' {
            break
        }
        'molt;help;pair;reject' {
            break
        }
        'molt;help;pair;revoke' {
            break
        }
        'molt;help;pair;rotate' {
            break
        }
        'molt;help;pair;code' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Codes waiting for approval')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Allow the sender of a code to talk to the assistant')
            [CompletionResult]::new('reject', 'reject', [CompletionResultType]::ParameterValue, 'Turn the sender of a code away')
            break
        }
        'molt;help;pair;code;list' {
            break
        }
        'molt;help;pair;code;approve' {
            break
        }
        'molt;help;pair;code;reject' {
            break
        }
        'molt;help;skills' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The installed skills: on or off, and whether the model is offered them (and why not)')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Install a skill from its folder (named as the skill) or a `.zip` of it')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove an installed skill and its files')
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Offer an installed skill to the model again')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Stop offering a skill to the model; it stays installed')
            break
        }
        'molt;help;skills;list' {
            break
        }
        'molt;help;skills;add' {
            break
        }
        'molt;help;skills;remove' {
            break
        }
        'molt;help;skills;enable' {
            break
        }
        'molt;help;skills;disable' {
            break
        }
        'molt;help;init' {
            break
        }
        'molt;help;deploy' {
            break
        }
        'molt;help;secrets' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Names of the local secrets, and whether the Worker has each (values are never shown)')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print one secret''s value on stdout')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Store a secret locally, its value read from stdin (or a hidden prompt)')
            [CompletionResult]::new('push', 'push', [CompletionResultType]::ParameterValue, 'Push every local secret the Worker lacks or that changed (`--all`: every one)')
            break
        }
        'molt;help;secrets;list' {
            break
        }
        'molt;help;secrets;get' {
            break
        }
        'molt;help;secrets;set' {
            break
        }
        'molt;help;secrets;push' {
            break
        }
        'molt;help;token' {
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Generate a new gateway token and push it to the Worker')
            break
        }
        'molt;help;token;rotate' {
            break
        }
        'molt;help;doctor' {
            break
        }
        'molt;help;tail' {
            break
        }
        'molt;help;completions' {
            break
        }
        'molt;help;man' {
            break
        }
        'molt;help;chat' {
            break
        }
        'molt;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
