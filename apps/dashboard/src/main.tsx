import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import './styles.css';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');

// No sign-in yet: calls go out without a token and the page shows the API's 401 with its request id.
const noToken = () => null;

createRoot(root).render(
  <StrictMode>
    <App token={noToken} />
  </StrictMode>,
);
