import { toOpenApi31 } from './openapi-3-1';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

function convert(schemas: Record<string, unknown>): Record<string, unknown> {
  const document = toOpenApi31({ openapi: '3.0.0', paths: {}, components: { schemas } });
  expect(document.openapi).toBe('3.1.0');
  return document.components.schemas;
}

describe('toOpenApi31', () => {
  it('turns a nullable reference (allOf with one $ref, as @nestjs/swagger writes it) into anyOf with null', () => {
    const schemas = convert({
      Key: {
        type: 'object',
        properties: {
          rotation: { nullable: true, type: 'object', allOf: [ref('Rotation')], description: 'In progress' },
        },
      },
    });
    expect(schemas['Key']).toEqual({
      type: 'object',
      properties: {
        rotation: { anyOf: [ref('Rotation'), { type: 'null' }], description: 'In progress' },
      },
    });
  });

  it('adds null to the type of a nullable typed schema, and to its enum', () => {
    const schemas = convert({
      Scan: {
        type: 'object',
        properties: {
          commit: { type: 'string', nullable: true, example: '9fceb02' },
          format: { type: 'string', enum: ['sarif', 'native'], nullable: true },
          metadata: { type: 'object', additionalProperties: true, nullable: true },
          name: { type: 'string', nullable: false },
        },
      },
    });
    expect(schemas['Scan']).toEqual({
      type: 'object',
      properties: {
        commit: { type: ['string', 'null'], example: '9fceb02' },
        format: { type: ['string', 'null'], enum: ['sarif', 'native', null] },
        metadata: { type: ['object', 'null'], additionalProperties: true },
        name: { type: 'string' },
      },
    });
  });

  it('turns a nullable $ref and a nullable oneOf into alternatives with null', () => {
    const schemas = convert({
      A: { nullable: true, $ref: '#/components/schemas/B' },
      C: { nullable: true, oneOf: [ref('B'), ref('D')] },
    });
    expect(schemas['A']).toEqual({ anyOf: [ref('B'), { type: 'null' }] });
    expect(schemas['C']).toEqual({ oneOf: [ref('B'), ref('D'), { type: 'null' }] });
  });

  it('writes boolean exclusive bounds as the numbers 3.1 expects', () => {
    const schemas = convert({
      N: { type: 'number', minimum: 0, exclusiveMinimum: true, maximum: 10, exclusiveMaximum: false },
    });
    expect(schemas['N']).toEqual({ type: 'number', exclusiveMinimum: 0, maximum: 10 });
  });

  it('converts schemas wherever they are (parameters, items, properties named like keywords) but never data', () => {
    const document = toOpenApi31({
      openapi: '3.0.0',
      paths: {
        '/x': {
          get: {
            parameters: [{ name: 'since', in: 'query', schema: { type: 'string', nullable: true } }],
            responses: {
              200: {
                description: 'ok',
                content: {
                  'application/json': {
                    schema: {
                      type: 'object',
                      properties: {
                        default: { type: 'string', nullable: true },
                        list: { type: 'array', items: { type: 'integer', nullable: true } },
                      },
                      example: { nullable: true },
                    },
                  },
                },
              },
            },
          },
        },
      },
    });
    const { get } = document.paths['/x'] as unknown as {
      get: {
        parameters: { schema: unknown }[];
        responses: Record<string, { content: Record<string, { schema: Record<string, unknown> }> }>;
      };
    };
    expect(get.parameters[0]?.schema).toEqual({ type: ['string', 'null'] });
    const schema = get.responses['200']?.content['application/json']?.schema;
    expect(schema).toEqual({
      type: 'object',
      properties: {
        default: { type: ['string', 'null'] },
        list: { type: 'array', items: { type: ['integer', 'null'] } },
      },
      example: { nullable: true },
    });
  });
});
