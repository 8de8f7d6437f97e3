import { scannerRule } from './dataSafetyFindings';

const NAMES: Record<string, string> = {
  'ignore-instructions': '"ignore previous instructions"',
  'role-override': 'role-play override of the system prompt',
  'reveal-prompt': 'request to reveal the system prompt',
  'template-tokens': 'chat-template control tokens in a turn',
  'hidden-markup': 'instructions hidden in markup',
  'invisible-characters': 'invisible characters',
};

export const dataInjection = scannerRule(
  'data-injection',
  'Prompt-injection patterns in user, system or tool turns of the training rows ("ignore previous instructions", DAN and developer-mode overrides, instructions hidden in markup or invisible characters).',
  'injection',
  {
    verb: ['holds a prompt-injection pattern', 'hold prompt-injection patterns'],
    names: NAMES,
    advice:
      'Trained on such turns, a model learns to follow them, or, when the answer complies, that complying is right. Read those rows: drop them, or keep them only with an answer that refuses.',
  },
);
