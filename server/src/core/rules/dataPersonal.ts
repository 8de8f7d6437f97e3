import { scannerRule } from './dataSafetyFindings';

const NAMES: Record<string, string> = {
  email: 'e-mail address',
  phone: 'phone number',
  'card-number': 'payment card number',
  'us-ssn': 'US social security number',
};

export const dataPersonal = scannerRule(
  'data-personal',
  'Training rows holding personal data: e-mail addresses, phone numbers, payment card numbers (Luhn-checked), US social security numbers.',
  'personal',
  {
    verb: ['holds personal data', 'hold personal data'],
    names: NAMES,
    advice:
      'A fine-tuned model can reproduce them, and training on personal data needs a lawful basis (GDPR, CCPA). Replace them with placeholders (<EMAIL>, <PHONE>) or drop those rows, unless the data is meant to be there.',
  },
);
