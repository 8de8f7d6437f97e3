import { scannerRule } from './dataSafetyFindings';

const NAMES: Record<string, string> = {
  'aws-access-key-id': 'AWS access key id',
  'github-token': 'GitHub token',
  'slack-token': 'Slack token',
  'slack-webhook': 'Slack webhook URL',
  'openai-key': 'OpenAI-style API key (sk-…)',
  'huggingface-token': 'Hugging Face token',
  'google-api-key': 'Google API key',
  'stripe-key': 'Stripe live key',
  jwt: 'JSON Web Token',
  'private-key': 'PEM private key',
  'url-password': 'password in a URL',
  'keyed-secret': 'random-looking value of a key-like name',
};

export const dataSecrets = scannerRule(
  'data-secrets',
  'Training rows holding API keys or tokens of well-known formats, private keys, passwords in URLs or random values of key-like names.',
  'secrets',
  {
    verb: ['holds a secret', 'hold secrets'],
    names: NAMES,
    advice:
      'A fine-tuned model can repeat what it was trained on to anyone who asks. Remove or redact those values (a placeholder such as <API_KEY>), and revoke the real ones: they were in a file.',
  },
);
